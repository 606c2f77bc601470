"""Bolt listeners: save what Slack sent in the inbox, then acknowledge; answer modals at once.

No feature logic lives here. Bolt runs with `process_before_response`, so Slack's 200 goes
out only after the listener returned, i.e. after the inbox row committed. Commands, messages,
buttons and shortcuts are then run by an inbox worker; how each answer goes back (the response
URL, "only visible to you", a DM or thread, a modal opened with the trigger) is stored with
the row as `via`, for `SlackSender.respond`. Modal submissions must be answered in the HTTP
response, so they run at once, their dedupe key and follow-up messages in one transaction.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import asdict, replace
from typing import Any

import aiohttp
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack import translate
from adapters.slack.blocks import home_view, result_view
from bot.engine import Engine
from bot.inbox import Outgoing
from bot.messages import ConversationRef, Inbound, Reply

log = logging.getLogger(__name__)
NAMES_KEPT = 5000
ASK_SHORTCUT = "kmb-ask-librarian"


class Names:
    """Display names and timezones from `users.info`, asked once per person per process."""

    def __init__(self, client: AsyncWebClient) -> None:
        self.client = client
        self.known: OrderedDict[str, tuple[str, str | None]] = OrderedDict()

    async def profile(self, user_id: str) -> tuple[str, str | None]:
        """(name, IANA timezone) — empty and None when Slack can't say."""
        if user_id in self.known:
            return self.known[user_id]
        found: tuple[str, str | None] = ("", None)
        try:
            found = translate.profile_of(
                (await self.client.users_info(user=user_id)).get("user") or {}
            )
        except Exception:  # a name is nice to have; never fail a turn for it
            log.info("users.info failed for %s", user_id)
        self.known[user_id] = found
        while len(self.known) > NAMES_KEPT:
            self.known.popitem(last=False)
        return found

    async def __call__(self, user_id: str) -> str:
        return (await self.profile(user_id))[0]

    async def complete(self, inbound: Inbound) -> Inbound:
        """The person with their name (if the payload lacked it) and timezone."""
        name, tz = await self.profile(inbound.person.external_id)
        who = replace(
            inbound.person, display_name=name or inbound.person.display_name, timezone=tz
        )
        return replace(inbound, person=who)


class Listeners:
    """Everything kmb does in Slack, wired to one engine."""

    def __init__(self, engine: Engine, client: AsyncWebClient) -> None:
        self.engine = engine
        self.client = client
        self.names = Names(client)
        self.session: aiohttp.ClientSession | None = None
        self.background: set[asyncio.Future[None]] = set()

    def register(self, app: AsyncApp) -> None:
        """Attach the listeners to a Bolt app."""
        app.command("/kmb")(self.on_command)
        app.event("app_mention")(self.on_message)
        app.event("message")(self.on_message)
        app.event("app_home_opened")(self.on_home)
        app.action({"action_id": _any_kmb_action()})(self.on_action)
        app.view({"type": "view_submission", "callback_id": _any_kmb_form()})(self.on_submit)
        app.view_closed(_any_kmb_form())(self.on_closed)
        app.shortcut(ASK_SHORTCUT)(self.on_ask_shortcut)

    # --- listeners -----------------------------------------------------------------------

    async def on_command(self, ack: Callable[..., Awaitable[None]], body: dict[str, Any]) -> None:
        """`/kmb …`: saved, then acknowledged; answered through the response URL by a worker."""
        inbound = translate.command(body)
        url = str(body.get("response_url") or "")
        via = {"mode": "respond", "url": url, "origin": inbound.text, "unpaced": True}
        await self.engine.receive(inbound, {"via": self._with_trigger(via, body, inbound)})
        await ack()

    async def on_message(self, body: dict[str, Any]) -> None:
        """A DM, an @mention or a reply in a thread under one of kmb's posts: saved before
        Slack gets its 200 (Bolt acknowledges events once this returns)."""
        user = body.get("event", {}).get("user")
        if not user or body.get("event", {}).get("bot_id"):
            return
        inbound = translate.event_message(body)
        if inbound is None:
            return
        if not inbound.addressed:  # overheard in a thread: answer only the person, quietly
            via: dict[str, Any] = {"mode": "ephemeral", "user_id": user, "unpaced": True}
        else:
            via = {"mode": "post", "origin": inbound.text}
        await self.engine.receive(inbound, {"via": via})

    async def on_home(self, body: dict[str, Any]) -> None:
        """The Home tab: pending prompts, open enquiries, projects, quick actions.

        Nothing is saved, so nothing needs to wait for the acknowledgement: it is drawn after.
        """
        event = body.get("event", {})
        if event.get("tab") != "home" or not event.get("user"):
            return
        task = asyncio.ensure_future(self._publish_home(str(event["user"])))
        self.background.add(task)
        task.add_done_callback(self.background.discard)

    async def _publish_home(self, user: str) -> None:
        name, tz = await self.names.profile(user)
        replies = await self.engine.handle(translate.home_opened(user, name, tz))
        if replies:
            await self._call(self.client.views_publish, user_id=user, view=home_view(replies[0]))

    async def on_action(self, ack: Callable[..., Awaitable[None]], body: dict[str, Any]) -> None:
        """A button: saved, then acknowledged; a worker runs its chat words and answers."""
        inbound = translate.action(body)
        conv = inbound.conversation
        route: dict[str, Any] = {}
        if body.get("container", {}).get("type") == "view":  # Home tab: answer in the DM
            conv = ConversationRef(translate.PLATFORM, inbound.person.external_id, "personal")
            route["conversation"] = asdict(conv)
        origin = inbound.action or ""
        if conv.kind == "personal":
            via: dict[str, Any] = {"mode": "post", "origin": origin}
        else:
            via = {"mode": "ephemeral", "user_id": inbound.person.external_id, "origin": origin}
            via["unpaced"] = True
        route["via"] = self._with_trigger(via, body, inbound)
        await self.engine.receive(inbound, route)
        await ack()

    async def on_submit(self, ack: Callable[..., Awaitable[None]], body: dict[str, Any]) -> None:
        """A modal sent: committed (with its dedupe key) before it closes; errors shown on
        their fields; follow-up messages queued in the same transaction."""
        inbound = await self.names.complete(translate.submission(body))
        where = translate.metadata(body)
        in_channel = where.get("kind") == "channel" and bool(where.get("channel"))
        user = inbound.person.external_id

        def follow_ups(
            inbound: Inbound, _route: Mapping[str, Any], replies: Sequence[Reply]
        ) -> list[Outgoing]:
            if in_channel:
                channel = ConversationRef(translate.PLATFORM, where["channel"], "channel")
                via = {"mode": "ephemeral", "user_id": user, "unpaced": True}
                return [Outgoing(channel, r, via) for r in replies]
            return [Outgoing(inbound.conversation, r, {"mode": "post"}) for r in replies]

        replies = await self.engine.handle(inbound, follow_ups)
        errors = {field: message for r in replies for field, message in r.errors}
        if errors:
            await ack(response_action="errors", errors=errors)
            return
        title = body["view"].get("title", {}).get("text", "kmb")
        await ack(response_action="update", view=result_view(title, replies or []))

    async def on_ask_shortcut(
        self, ack: Callable[..., Awaitable[None]], body: dict[str, Any]
    ) -> None:
        """The message shortcut: turn any message into an enquiry, its text as the question."""
        inbound = translate.shortcut(body)
        via = self._with_trigger({"mode": "post", "origin": "librarian"}, body, inbound)
        await self.engine.receive(inbound, {"via": via})
        await ack()

    async def on_closed(self, ack: Callable[..., Awaitable[None]]) -> None:
        """A modal cancelled: nothing to save (its context expires with the next form)."""
        await ack()

    @staticmethod
    def _with_trigger(
        via: dict[str, Any], body: dict[str, Any], inbound: Inbound
    ) -> dict[str, Any]:
        """A form in the answer opens as a modal with the request's trigger (valid 3 s).

        Platform-assigned values go under `…_id` keys, which the PII guard leaves as they are.
        """
        if body.get("trigger_id"):
            via["trigger_id"] = str(body["trigger_id"])
            via["where_channel_id"] = inbound.conversation.id
            via["where_kind"] = inbound.conversation.kind
        return via

    # --- helpers -------------------------------------------------------------------------

    def http(self) -> aiohttp.ClientSession:
        """One HTTP session for this process's calls to Slack (made inside the event loop)."""
        if self.session is None or self.session.closed:
            self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
            self.client.session = self.session
        return self.session

    async def close(self) -> None:
        """Close the shared HTTP session (Home tabs still being drawn are dropped)."""
        for task in list(self.background):
            task.cancel()
        if self.session is not None:
            await self.session.close()

    async def _call(self, method: Callable[..., Awaitable[Any]], **kwargs: Any) -> bool:
        """Call the Web API; a refusal is logged, never raised into Bolt (Slack got its ack)."""
        try:
            await method(**kwargs)
            return True
        except SlackApiError as exc:
            log.warning(
                "Slack refused %s: %s",
                getattr(method, "__name__", "call"),
                exc.response.get("error"),
            )
        except Exception:
            log.exception("Slack call failed")
        return False


def _any_kmb_action() -> re.Pattern[str]:
    return re.compile(r"^kmb-\d+$")


def _any_kmb_form() -> re.Pattern[str]:
    return re.compile(r"^kmb-form:")
