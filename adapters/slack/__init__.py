"""Slack: slack-bolt's `AsyncApp` behind kmb's own aiohttp route, or over Socket Mode.

`mount` adds `POST /slack/events` (events, slash commands and interactivity on one URL) when a
signing secret is set, starts Socket Mode when `SLACK_APP_TOKEN` is set, and returns the sender
the outbox delivers through. Nothing here calls Slack at start-up: `authorize=` supplies the bot
token, so the first request never waits on `auth.test`.
"""

from __future__ import annotations

import logging
import time

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from adapters import wire
from adapters.slack import shape
from adapters.slack.listeners import Listeners
from adapters.slack.reconcile import ReconcilingSlackSender, TaggingWebClient
from adapters.slack.sender import SlackSender
from adapters.slack.signing import refusal
from adapters.slack.socket import attach
from bot.config import Settings
from bot.engine import Engine

from .capabilities import SLACK

log = logging.getLogger(__name__)
ROUTE = "/slack/events"


def api_url(settings: Settings) -> str:
    """The Web API base URL; slack-sdk needs the trailing slash."""
    url = settings.slack_api_url or "https://slack.com/api/"
    return url if url.endswith("/") else url + "/"


def build(engine: Engine) -> tuple[AsyncApp, Listeners, SlackSender]:
    """The Bolt app with kmb's listeners, and the outbox's sender."""
    settings = engine.settings
    token = settings.slack_bot_token
    client = AsyncWebClient(token=token, base_url=api_url(settings), timeout=10)
    client.retry_handlers.append(AsyncRateLimitErrorRetryHandler(max_retry_count=1))

    async def authorize(enterprise_id: str | None, team_id: str | None) -> AuthorizeResult:
        return AuthorizeResult(
            enterprise_id=enterprise_id,
            team_id=team_id,
            bot_token=token,
            bot_user_id=settings.slack_bot_user_id or None,
        )

    app = AsyncApp(
        client=AsyncWebClient(base_url=api_url(settings), timeout=10),  # token: from authorize
        signing_secret=settings.slack_signing_secret or "socket-mode-only",
        authorize=authorize,
        request_verification_enabled=bool(settings.slack_signing_secret),
        ignoring_self_events_enabled=False,
        # Slack's 200 only once the listener returned: after the inbox row is committed.
        process_before_response=True,
        ssl_check_enabled=True,
        url_verification_enabled=True,
    )
    listeners = Listeners(engine, client)
    listeners.register(app)
    engine.platforms.declare("slack", SLACK)
    engine.preparers["slack"] = listeners.names.complete  # names and timezones, per turn
    # The outbox's sender tags each post with its key, so a crash never makes it send twice.
    sender = ReconcilingSlackSender(
        TaggingWebClient(token=token, base_url=api_url(settings), timeout=10)
    )
    return app, listeners, sender


def mount(web_app: web.Application, engine: Engine) -> SlackSender:
    """Serve Slack on `web_app` (HTTP and/or Socket Mode); the sender for the outbox."""
    bolt, listeners, sender = build(engine)
    settings = engine.settings

    async def open_session(_: web.Application) -> None:
        sender.client.session = listeners.http()  # one connection pool for all Slack calls

    async def close_session(_: web.Application) -> None:
        await listeners.close()

    web_app.on_startup.append(open_session)
    web_app.on_cleanup.append(close_session)
    if settings.slack_signing_secret:
        secret = settings.slack_signing_secret

        async def events(request: web.Request) -> web.Response:
            """Signature first, on the raw bytes; then the shape; only then Bolt."""
            raw = await request.read()
            refused = refusal(secret, raw, request.headers, time.time())
            if refused is not None:
                return web.json_response({"error": "not signed by Slack"}, status=refused)
            try:
                body = wire.text(raw)
                shape.payload_of(body, request.content_type)
                bolt_request = AsyncBoltRequest(
                    body=body,
                    query=request.query_string,
                    headers=request.headers,  # type: ignore[arg-type]
                )
            except wire.Malformed as exc:
                log.info("refused a signed Slack request: %s", exc)
                return web.json_response({"error": str(exc)}, status=400)
            except Exception as exc:  # Bolt's own parsing of what the shape check let by
                log.info("refused a signed Slack request Bolt cannot read: %r", exc)
                return web.json_response({"error": "kmb cannot read this request"}, status=400)
            return await to_aiohttp_response(await bolt.async_dispatch(bolt_request))

        web_app.router.add_post(ROUTE, events)
    if settings.slack_app_token:
        attach(web_app, bolt, settings.slack_app_token)
    return sender
