"""`POST /api/messages`: our own aiohttp handler around botbuilder's CloudAdapter.

Our own handler rather than `CloudAdapter.process` because the stock one answers 500 to every
invoke whose handler returns a body (it serialises the body twice), and lets token errors
surface as 500. Here a refused token is always 401, a malformed request 400, and an invoke's
body is written once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from aiohttp import web
from botbuilder.core import InvokeResponse, TurnContext
from botbuilder.schema import Activity, ActivityTypes

from adapters import wire
from bot import inbox
from bot.engine import Engine
from bot.features.help import ABOUT
from bot.inbox import Outgoing
from bot.messages import Inbound, PersonRef, Reply, Text
from bot.outbox import subject_of_thread

from . import cards, extension, shape
from .activity import conversation_of, to_inbound
from .refs import PLATFORM, References, reference_of
from .sender import TeamsSender

log = logging.getLogger(__name__)
WELCOME = (
    "Hello, I'm kmb. " + ABOUT,
    "To start, type `help` for everything I can do, `tool` followed by what you need (for "
    "example `tool capture lessons from a finished project`), or `librarian` to ask the "
    "library team for an evidence search.",
)


def _welcome_key(conversation_id: str) -> str:
    return inbox.key_of("welcome", conversation_id)


class _BotError(Exception):
    """The turn itself failed (not the authentication of the request)."""


class _Refused(Exception):
    """An authenticated activity kmb will not act on (its reason is the 400's message)."""


class TeamsBot:
    """Turns activities into engine calls and engine replies into Teams messages."""

    def __init__(
        self,
        engine: Engine,
        adapter: Any,
        app_id: str,
        connector_hosts: tuple[str, ...] = shape.CONNECTOR_HOSTS,
    ) -> None:
        self.engine = engine
        self.adapter = adapter
        self.authenticated = bool(app_id)
        self.connector_hosts = connector_hosts
        self.refs = References(engine.store)
        self.sender = TeamsSender(adapter, engine.store, self.refs, app_id)
        self.background: set[asyncio.Task[None]] = set()
        engine.shapers[PLATFORM] = self.address_replies

    # --- HTTP ----------------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.Response:
        """One activity from the connector (or the Emulator / Agents Playground).

        A token is looked for before the body is read, the body is checked before botbuilder
        sees it, and a `serviceUrl` kmb may not call is refused before anything calls it.
        """
        auth = request.headers.get("Authorization", "")
        if self.authenticated and not auth.startswith("Bearer "):
            return web.json_response({"error": "unauthorized"}, status=401)
        if "application/json" not in request.headers.get("Content-Type", ""):
            return web.json_response({"error": "expected application/json"}, status=415)
        try:
            body = wire.json_object(wire.text(await request.read()))
            shape.check(body)
            activity = Activity().deserialize(body)
        except wire.Malformed as exc:
            return self._refuse(str(exc))
        except Exception:
            return self._refuse("that is not a valid activity")
        url = body.get("serviceUrl")
        where = shape.service_url_problem(url, self.authenticated, self.connector_hosts)
        if where and not (self.authenticated and url):  # Emulator mode, or no serviceUrl
            return self._refuse(where)

        async def logic(ctx: TurnContext) -> None:
            if where:  # with an app id: refused once the token is known good (else 401)
                raise _Refused(where)
            try:
                await self.turn(ctx, body)
            except Exception as exc:
                raise _BotError() from exc

        try:
            invoke = await self.adapter.process_activity(auth, activity, logic)
        except _Refused as exc:
            return self._refuse(str(exc))
        except _BotError:
            log.exception("Teams turn failed")
            return web.json_response({"error": "kmb failed handling this activity"}, status=500)
        except Exception as exc:  # every other failure happened authenticating the request
            log.warning("refused a Teams request: %s: %s", type(exc).__name__, exc)
            return web.json_response({"error": "unauthorized"}, status=401)
        if isinstance(invoke, InvokeResponse):
            return web.json_response(invoke.body, status=invoke.status or 200)
        return web.Response(status=200)

    @staticmethod
    def _refuse(reason: str) -> web.Response:
        log.info("refused a Teams activity: %s", reason)
        return web.json_response({"error": reason}, status=400)

    # --- turns ---------------------------------------------------------------------------

    async def turn(self, ctx: TurnContext, raw: dict[str, Any]) -> None:
        """Handle one authenticated activity: messages and submitted cards are saved in the
        inbox before the 200 and answered by a worker; invokes are answered at once."""
        kind = raw.get("type")
        if raw.get("serviceUrl") and (raw.get("conversation") or {}).get("id"):
            self.refs.save("conv", reference_of(raw)["conversation"]["id"], reference_of(raw))
        if kind in ("conversationUpdate", "installationUpdate"):
            await self._installation(ctx, raw)
            return
        if kind == "invoke":
            await self._invoke(ctx, raw)
            return
        inbound = to_inbound(raw)
        if inbound is None or not inbound.event_id:
            return
        await self.engine.receive(self._in_thread(inbound))

    def address_replies(
        self, inbound: Inbound, route: Mapping[str, Any], replies: Sequence[Reply]
    ) -> list[Outgoing]:
        """Where a turn's replies go: a submitted card is replaced by its outcome (or by the
        form again, with its errors); anything else is posted in the conversation."""
        conv = inbound.conversation
        reply_to = str((inbound.raw or {}).get("replyToId") or "")
        if inbound.kind == "form" and reply_to and replies:
            return [Outgoing(conv, self._form_result(inbound, list(replies)), update_of=reply_to)]
        activity = str((inbound.raw or {}).get("id") or "")
        via = {"reply_to_id": activity} if activity else None
        return [Outgoing(conv, r, via) for r in replies]

    def _in_thread(self, inbound: Inbound) -> Inbound:
        """Under one of kmb's posts an @mention that is not a chat word is someone writing in
        that thread (as an un-mentioned reply is, with resource-specific consent or in Slack)."""
        conv = inbound.conversation
        if inbound.kind != "message" or conv.kind == "personal" or not conv.thread:
            return inbound
        head = " ".join(inbound.text.lower().split()[:3])
        if any(head == c.words or head.startswith(c.words + " ") for c in self.engine.commands):
            return inbound
        with self.engine.store.session() as s:
            subject = subject_of_thread(self.engine.store, s, conv)
        return replace(inbound, addressed=False) if subject else inbound

    def _form_result(self, inbound: Inbound, replies: list[Reply]) -> Reply:
        """What replaces a submitted form card: the form again with errors, or the outcome."""
        rejected = next((r for r in replies if r.errors), None)
        spec = (inbound.raw or {}).get("value") or {}
        if (inbound.raw or {}).get("type") == "invoke":
            spec = ((spec.get("action") or {}).get("data")) or {}
        if rejected is not None and isinstance(spec.get("kmb_spec"), dict):
            return cards.form_again(spec["kmb_spec"], inbound.value, rejected)
        return cards.merged(replies)

    async def _invoke(self, ctx: TurnContext, raw: dict[str, Any]) -> None:
        """`adaptiveCard/action` (Action.Execute): the answer replaces the card. The message
        action ("Ask a librarian about this") is answered by `extension`."""
        if raw.get("name") in extension.NAMES:
            await self._invoke_response(ctx, 200, await extension.handle(self.engine, raw))
            return
        if raw.get("name") != "adaptiveCard/action":  # the Bot Framework's answer: 501
            await self._invoke_response(ctx, 501, {})
            return
        inbound = to_inbound(raw)
        if inbound is None:  # a card action kmb cannot read (no sender, no kmb data)
            await self._invoke_response(ctx, 400, {"error": "not a kmb card action"})
            return
        replies = await self.engine.handle(inbound)
        reply = (
            self._form_result(inbound, replies)
            if inbound.kind == "form"
            else cards.merged(replies or [Reply((Text("Done."),))])
        )
        body = {
            "statusCode": 200,
            "type": cards.CARD_CONTENT_TYPE,
            "value": cards.card(reply),
        }
        await self._invoke_response(ctx, 200, body)

    async def _invoke_response(self, ctx: TurnContext, status: int, body: Any) -> None:
        await ctx.send_activity(
            Activity(
                type=ActivityTypes.invoke_response, value=InvokeResponse(status=status, body=body)
            )
        )

    # --- installation --------------------------------------------------------------------

    async def _installation(self, ctx: TurnContext, raw: dict[str, Any]) -> None:
        conversation = conversation_of(raw)
        bot_id = (raw.get("recipient") or {}).get("id")
        added = [m for m in raw.get("membersAdded") or () if m.get("id")]
        removed = [m for m in raw.get("membersRemoved") or () if m.get("id")]
        action = str(raw.get("action") or "")
        team = (raw.get("channelData") or {}).get("team") or {}
        if action == "remove" or any(m["id"] == bot_id for m in removed):
            self.refs.mark_unusable("conv", conversation.id)
            if team.get("id"):
                self.refs.mark_unusable("team", str(team["id"]))
            inbox.forget(self.engine.store, PLATFORM, _welcome_key(conversation.id))
            return
        installed = action.startswith("add") or any(m["id"] == bot_id for m in added)
        if team.get("id"):
            reference = reference_of(raw)
            for member in added:
                if member["id"] != bot_id:
                    self._remember_member(reference, member)
            if installed:
                self.refs.save("team", str(team["id"]), {**reference, "team": team})
                self._in_background(self._learn_members(reference, str(team["id"])))
            return
        if installed and conversation.kind == "personal":
            await self._welcome(ctx, raw)

    async def _welcome(self, ctx: TurnContext, raw: dict[str, Any]) -> None:
        """Exactly one welcome per personal install, however many install events arrive: the
        welcome is queued in the outbox in the same transaction as its dedupe key."""
        await asyncio.get_running_loop().run_in_executor(
            self.engine.workers, self._queue_welcome, raw
        )
        for callback in self.engine.on_change:
            callback()

    def _queue_welcome(self, raw: dict[str, Any]) -> None:
        conversation = conversation_of(raw)
        user = next(
            (m for m in raw.get("membersAdded") or () if m.get("id") != raw["recipient"]["id"]),
            raw.get("from") or {},
        )
        person = PersonRef(PLATFORM, str(user.get("id", "")), str(user.get("name") or ""))
        store = self.engine.store
        with store.unit() as s:
            item = inbox.record(store, s, PLATFORM, _welcome_key(conversation.id))
            if item is None:
                return
            replies = [Reply(tuple(Text(p) for p in WELCOME), summary="Welcome to kmb")]
            if person.external_id:
                self.engine.turn_for(Inbound("message", person, conversation))
                replies += self.engine.greet(person)
            inbox.queue_replies(
                store, s, f"inbox:{item}", [Outgoing(conversation, r) for r in replies]
            )

    def _remember_member(self, reference: dict[str, Any], member: dict[str, Any]) -> None:
        self.refs.save(
            "member",
            str(member["id"]),
            {
                "serviceUrl": reference["serviceUrl"],
                "tenantId": reference["conversation"].get("tenantId", ""),
                "botId": (reference.get("bot") or {}).get("id", ""),
                "name": member.get("name", ""),
                "aadObjectId": member.get("aadObjectId", ""),
            },
        )

    async def _learn_members(self, reference: dict[str, Any], team_id: str) -> None:
        """Everyone in a team kmb was added to, so kmb can reach them one to one later."""
        members = await self.sender.paged_members(team_id, reference["serviceUrl"])
        for member in members:
            if member.get("id"):
                self._remember_member(reference, member)

    def _in_background(self, work: Any) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(work)
        self.background.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self.background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("listing team members failed: %s", task.exception())
