"""Bolt listeners: acknowledge first, hand the engine an `Inbound`, render what it says.

No feature logic lives here. Forms open as modals straight away with the trigger id; replies
to the caller are ephemeral in channels and plain in DMs; @mentions are answered in a thread.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from typing import Any

import aiohttp
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack import translate
from adapters.slack.blocks import home_view, messages_for, result_view
from adapters.slack.modals import form_in, modal_for
from bot.engine import Engine
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
            found = profile_of((await self.client.users_info(user=user_id)).get("user") or {})
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


def profile_of(user: dict[str, Any]) -> tuple[str, str | None]:
    """A users.info user's display name and timezone."""
    profile = user.get("profile") or {}
    name = profile.get("real_name") or profile.get("display_name") or user.get("name", "")
    return str(name), (str(user["tz"]) if user.get("tz") else None)


class Listeners:
    """Everything kmb does in Slack, wired to one engine."""

    def __init__(self, engine: Engine, client: AsyncWebClient) -> None:
        self.engine = engine
        self.client = client
        self.names = Names(client)
        self.session: aiohttp.ClientSession | None = None

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
        """`/kmb …`: ack within Slack's 3 s, then work and answer through the response URL."""
        await ack()
        inbound = await self.names.complete(translate.command(body))
        replies = await self.engine.handle(inbound)
        if await self._open_form(replies, body.get("trigger_id"), inbound):
            replies = [r for r in replies if form_in([r]) is None]
        url = str(body.get("response_url") or "")
        for reply in replies:
            shared = reply.public and inbound.conversation.kind == "channel"
            for text, blocks in messages_for(reply, origin=inbound.text):
                await self._respond(
                    url,
                    text=text,
                    blocks=blocks,
                    response_type="in_channel" if shared else "ephemeral",
                    replace_original=False,
                )

    async def on_message(self, body: dict[str, Any]) -> None:
        """A DM, an @mention or a reply in a thread under one of kmb's posts."""
        user = body.get("event", {}).get("user")
        if not user or body.get("event", {}).get("bot_id"):
            return
        inbound = translate.event_message(body)
        if inbound is None:
            return
        inbound = await self.names.complete(inbound)
        replies = await self.engine.handle(inbound)
        if not inbound.addressed:  # overheard in a thread: answer only the person, quietly
            await self._ephemeral(inbound.conversation, inbound.person.external_id, replies)
            return
        await self._post(inbound.conversation, replies, origin=inbound.text)

    async def on_home(self, body: dict[str, Any]) -> None:
        """The Home tab: pending prompts, open enquiries, projects, quick actions."""
        event = body.get("event", {})
        if event.get("tab") != "home" or not event.get("user"):
            return
        user = event["user"]
        name, tz = await self.names.profile(user)
        ref = replace(translate.person(user, name), timezone=tz)
        reply = await _in_thread(self.engine.home, ref)
        await self._call(self.client.views_publish, user_id=user, view=home_view(reply))

    async def on_action(self, ack: Callable[..., Awaitable[None]], body: dict[str, Any]) -> None:
        """A button: ack, run its chat words, open a form or answer the presser."""
        await ack()
        inbound = await self.names.complete(translate.action(body))
        replies = await self.engine.handle(inbound)
        if await self._open_form(replies, body.get("trigger_id"), inbound):
            replies = [r for r in replies if form_in([r]) is None]
        conv = inbound.conversation
        if body.get("container", {}).get("type") == "view":  # Home tab: answer in the DM
            conv = ConversationRef(translate.PLATFORM, inbound.person.external_id, "personal")
        if conv.kind == "personal":
            await self._post(conv, replies, origin=inbound.action or "")
        else:
            await self._ephemeral(
                conv, inbound.person.external_id, replies, origin=inbound.action or ""
            )

    async def on_submit(self, ack: Callable[..., Awaitable[None]], body: dict[str, Any]) -> None:
        """A modal sent: committed before it closes; errors shown on their fields."""
        inbound = await self.names.complete(translate.submission(body))
        replies = await self.engine.handle(inbound)
        errors = {field: message for r in replies for field, message in r.errors}
        if errors:
            await ack(response_action="errors", errors=errors)
            return
        title = body["view"].get("title", {}).get("text", "kmb")
        await ack(response_action="update", view=result_view(title, replies or []))
        where = translate.metadata(body)
        if replies and where.get("kind") == "channel" and where.get("channel"):
            channel = ConversationRef(translate.PLATFORM, where["channel"], "channel")
            await self._ephemeral(channel, inbound.person.external_id, replies)
        elif replies:
            await self._post(inbound.conversation, replies)

    async def on_ask_shortcut(
        self, ack: Callable[..., Awaitable[None]], body: dict[str, Any]
    ) -> None:
        """The message shortcut: turn any message into an enquiry, its text as the question."""
        await ack()
        inbound = await self.names.complete(translate.shortcut(body))
        replies = await self.engine.handle(inbound)
        if not await self._open_form(replies, body.get("trigger_id"), inbound):
            await self._post(inbound.conversation, replies, origin="librarian")

    async def on_closed(self, ack: Callable[..., Awaitable[None]]) -> None:
        """A modal cancelled: nothing to save (its context expires with the next form)."""
        await ack()

    # --- helpers -------------------------------------------------------------------------

    async def _open_form(
        self, replies: Sequence[Reply], trigger_id: str | None, inbound: Inbound
    ) -> bool:
        form = form_in(replies)
        if form is None or not trigger_id:
            return False
        where = {"channel": inbound.conversation.id, "kind": inbound.conversation.kind}
        return await self._call(
            self.client.views_open, trigger_id=trigger_id, view=modal_for(form, where)
        )

    async def _post(
        self, conv: ConversationRef, replies: Sequence[Reply], origin: str = ""
    ) -> None:
        for reply in replies:
            for text, blocks in messages_for(reply, origin=origin):
                await self._call(
                    self.client.chat_postMessage,
                    channel=conv.id,
                    thread_ts=conv.thread,
                    text=text,
                    blocks=blocks,
                    unfurl_links=False,
                )

    async def _ephemeral(
        self, conv: ConversationRef, user: str, replies: Sequence[Reply], origin: str = ""
    ) -> None:
        for reply in replies:
            for text, blocks in messages_for(reply, origin=origin):
                await self._call(
                    self.client.chat_postEphemeral,
                    channel=conv.id,
                    user=user,
                    thread_ts=conv.thread,
                    text=text,
                    blocks=blocks,
                )

    async def _respond(self, url: str, **message: Any) -> None:
        """Answer through a slash command's response URL (on the shared HTTP session)."""
        if not url.startswith(("https://", "http://127.0.0.1", "http://localhost")):
            log.warning("ignoring a response URL that is not https: %s", url[:60])
            return
        try:
            async with self.http().post(url, json=message) as resp:
                if resp.status >= 400:
                    log.warning("response URL refused: %s", resp.status)
        except (aiohttp.ClientError, TimeoutError):
            log.warning("response URL unreachable")

    def http(self) -> aiohttp.ClientSession:
        """One HTTP session for this process's calls to Slack (made inside the event loop)."""
        if self.session is None or self.session.closed:
            self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
            self.client.session = self.session
        return self.session

    async def close(self) -> None:
        """Close the shared HTTP session."""
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


async def _in_thread(func: Callable[..., Any], *args: Any) -> Any:
    return await asyncio.to_thread(func, *args)


def _any_kmb_action() -> re.Pattern[str]:
    return re.compile(r"^kmb-\d+$")


def _any_kmb_form() -> re.Pattern[str]:
    return re.compile(r"^kmb-form:")
