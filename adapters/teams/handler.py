"""`POST /api/messages`: our own aiohttp handler around the Agents SDK's `CloudAdapter`.

Our own handler rather than the SDK's `jwt_authorization_middleware` + `CloudAdapter.process`:
here a missing or refused token is always 401 with one body, a malformed request 400 (checked
before the SDK parses it), a `serviceUrl` kmb may not call is refused before anything calls it,
and a failed turn is a 500 rather than an "Exception caught" message posted into the chat (the
SDK's default turn-error handler).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from aiohttp import web
from microsoft_agents.activity import Activity
from microsoft_agents.hosting.core import ClaimsIdentity, TurnContext

from adapters import wire
from bot.engine import Engine
from bot.inbox import Outgoing
from bot.messages import Inbound, Reply

from . import shape
from .activity import to_inbound
from .auth import Unauthorized
from .connection import Connection
from .install import Installations
from .invoke import Invokes, form_result
from .refs import PLATFORM, reference_of
from .sender import TeamsSender

log = logging.getLogger(__name__)


class _BotError(Exception):
    """The turn itself failed (not the authentication of the request)."""


class TeamsBot:
    """Turns activities into engine calls and engine replies into Teams messages."""

    def __init__(
        self,
        engine: Engine,
        connection: Connection,
        app_id: str,
        connector_hosts: tuple[str, ...] = shape.CONNECTOR_HOSTS,
    ) -> None:
        self.engine = engine
        self.connection = connection
        self.adapter = connection.adapter
        self.adapter.on_turn_error = None  # a failed turn raises: a 500, nothing in the chat
        self.authenticated = connection.authenticator is not None
        self.connector_hosts = connector_hosts
        self.refs = engine.references(PLATFORM)
        self.sender = TeamsSender(connection.clients, engine.store, self.refs, app_id)
        self.installations = Installations(engine, self.refs, self.sender, self.address_replies)
        self._saved: dict[str, str] = {}  # conversation id -> the reference last saved
        self.invokes = Invokes(engine)
        self.background = self.installations.background
        engine.shapers[PLATFORM] = self.address_replies

    # --- HTTP ----------------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.Response:
        """One activity from the connector (or the Agents Playground / Emulator).

        A token is looked for before the body is read, the body is checked before the SDK
        sees it, and a `serviceUrl` kmb may not call is refused before anything calls it.
        """
        auth = request.headers.get("Authorization", "")
        if self.authenticated and not auth.startswith("Bearer "):
            return _unauthorized()
        if "application/json" not in request.headers.get("Content-Type", ""):
            return web.json_response({"error": "expected application/json"}, status=415)
        try:
            body = wire.json_object(wire.text(await request.read()))
            shape.check(body)
            activity = Activity.model_validate(_without_nulls(body))
        except wire.Malformed as exc:
            return _refuse(str(exc))
        except Exception:
            return _refuse("that is not a valid activity")
        url = body.get("serviceUrl")
        where = shape.service_url_problem(url, self.authenticated, self.connector_hosts)
        if where and not (self.authenticated and url):  # anonymous mode, or no serviceUrl
            return _refuse(where)
        claims = ClaimsIdentity()  # anonymous
        if self.connection.authenticator is not None:
            try:
                claims = await self.connection.authenticator.identity(auth, url)
            except Unauthorized as exc:
                log.warning("refused a Teams request: %s", exc)
                return _unauthorized()
        if where:  # with an app id: refused once the token is known good (else 401)
            return _refuse(where)

        async def logic(ctx: TurnContext) -> None:
            try:
                await self.turn(ctx, body)
            except Exception as exc:
                raise _BotError() from exc

        try:
            invoke = await self.adapter.process_activity(claims, activity, logic)
        except _BotError:
            log.exception("Teams turn failed")
            return web.json_response({"error": "kmb failed handling this activity"}, status=500)
        if body.get("type") == "invoke":  # no answer set: the Bot Framework's 501
            status = int(invoke.status) if invoke is not None and invoke.status else 501
            return web.json_response(invoke.body if invoke is not None else None, status=status)
        return web.Response(status=200)

    # --- turns ---------------------------------------------------------------------------

    async def turn(self, ctx: TurnContext, raw: dict[str, Any]) -> None:
        """Handle one authenticated activity: messages and submitted cards are saved in the
        inbox before the 200 and answered by a worker; invokes are answered at once."""
        kind = raw.get("type")
        installs = kind in ("conversationUpdate", "installationUpdate")
        await self._remember(raw, again=installs)
        if installs:
            await self.installations.handle(raw)
            return
        if kind == "invoke":
            status, answer = await self.invokes.answer(raw)
            await ctx.send_activity(
                Activity(type="invokeResponse", value={"status": status, "body": answer})
            )
            return
        inbound = to_inbound(raw)
        if inbound is None or not inbound.event_id:
            return
        await self.engine.receive(inbound)

    async def _remember(self, raw: dict[str, Any], again: bool) -> None:
        """Keep where this conversation is answered: off the event loop, not queued behind
        the turns on the engine's threads, and only when it changed (most activities repeat
        the reference the last one stored)."""
        if not (raw.get("serviceUrl") and (raw.get("conversation") or {}).get("id")):
            return
        reference = reference_of(raw)
        ident = reference["conversation"]["id"]
        stamp = json.dumps(reference, sort_keys=True, default=str)
        if again or self._saved.get(ident) != stamp:
            await asyncio.to_thread(self.refs.save_now, "conv", ident, reference)
            self._saved[ident] = stamp

    def address_replies(
        self, inbound: Inbound, route: Mapping[str, Any], replies: Sequence[Reply]
    ) -> list[Outgoing]:
        """Where a turn's replies go: a submitted card is replaced by its outcome (or by the
        form again, with its errors); anything else is posted in the conversation."""
        conv = inbound.conversation
        if inbound.kind in ("installed", "uninstalled"):  # the welcome: a post of its own
            return [Outgoing(conv, r) for r in replies]
        reply_to = str((inbound.raw or {}).get("replyToId") or "")
        if inbound.kind == "form" and reply_to and replies:
            return [Outgoing(conv, form_result(inbound, list(replies)), update_of=reply_to)]
        activity = str((inbound.raw or {}).get("id") or "")
        via = {"reply_to_id": activity} if activity else None
        return [Outgoing(conv, r, via) for r in replies]


def _without_nulls(value: Any) -> Any:
    """JSON nulls as absent fields: the SDK's models refuse `null` where botbuilder's took it
    (Teams and the Playground send e.g. `"replyToId": null`)."""
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def _refuse(reason: str) -> web.Response:
    log.info("refused a Teams activity: %s", reason)
    return web.json_response({"error": reason}, status=400)


def _unauthorized() -> web.Response:
    return web.json_response({"error": "unauthorized"}, status=401)
