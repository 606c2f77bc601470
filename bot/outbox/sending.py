"""How the core hands a message to a platform: one `send`, one `update`, one result shape.

Adapters implement `Sender`; the outbox (`bot.outbox`) is the only caller. A sender never
raises for a platform's refusal: it says what happened in a `SendResult`, so the outbox can
retry after `retry_after`, back off on a transient error, or park a permanent failure.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from bot.messages import ConversationRef, Reply


@dataclass(frozen=True)
class SendResult:
    """What happened to one send: the platform's message id, or why it failed."""

    ok: bool
    message_id: str | None = None
    retry_after: float | None = None
    permanent: bool = False
    unreachable: bool = False
    error: str = ""
    rate_limited: bool = False  # the platform answered 429: too many requests

    @classmethod
    def sent(cls, message_id: str | None) -> SendResult:
        """Delivered; `message_id` lets the message be updated or threaded later."""
        return cls(ok=True, message_id=message_id)

    @classmethod
    def failed(
        cls,
        error: str,
        *,
        retry_after: float | None = None,
        permanent: bool = False,
        unreachable: bool = False,
        rate_limited: bool = False,
    ) -> SendResult:
        """Not delivered: transient unless `permanent` (or `unreachable`, the person is gone)."""
        return cls(
            ok=False,
            retry_after=retry_after,
            permanent=permanent or unreachable,
            unreachable=unreachable,
            error=error[:500],
            rate_limited=rate_limited,
        )


class Sender(Protocol):
    """A platform's way of delivering kmb's messages."""

    platform: str

    async def send(self, conversation: ConversationRef, reply: Reply) -> SendResult:
        """Post a reply to a DM (by person or conversation id), a channel or a thread."""
        ...

    async def update(
        self, conversation: ConversationRef, message_id: str, reply: Reply
    ) -> SendResult:
        """Replace a message kmb posted earlier (a card whose state changed)."""
        ...


SENDING_KEY: ContextVar[str | None] = ContextVar("kmb_sending_key", default=None)
"""The outbox row's dedupe key while its send runs: a sender may tag the message with it (e.g.
Slack `metadata`), so `Reconciler.find_sent` can tell later whether it arrived."""


@runtime_checkable
class Reconciler(Protocol):
    """A sender that can say whether a message tagged with a key was already delivered.

    After a crash between "sent" and "recorded", the outbox asks before sending again, so a
    restart never doubles a message. Senders without it are at-least-once in that window.
    """

    async def find_sent(self, conversation: ConversationRef, key: str) -> str | None:
        """The platform's message id of the message tagged `key`, or None."""
        ...


@runtime_checkable
class Responder(Protocol):
    """A sender that can answer the way the platform asked for (a reply to an inbound).

    `via` is what the adapter stored with the inbound (e.g. Slack's response URL, a trigger to
    open a form with, "only visible to you"); the outbox passes it back untouched.
    """

    async def respond(
        self, conversation: ConversationRef, via: Mapping[str, Any], reply: Reply
    ) -> SendResult:
        """Deliver a reply to an inbound as `via` says."""
        ...
