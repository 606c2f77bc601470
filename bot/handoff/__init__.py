"""Hand-off to a library's own queue (a shared mailbox or LibAnswers) and replies back to chat.

`outgoing` queues an enquiry's mail or ticket as outbox rows; `smtp` and `libanswers` are the
outbox senders for them; `imap` reads replies from kmb's mailbox and `incoming` matches them to
their enquiry and relays them (or holds them for admins). `bot/` stays free of chat SDKs: these
modules speak only SMTP, IMAP and HTTP.
"""

from __future__ import annotations

from bot.handoff.outgoing import (
    closed_in_chat,
    hand_off,
    librarian_replied,
    requester_replied,
    view_pairs,
)
from bot.handoff.teams import handoff_of

__all__ = [
    "closed_in_chat",
    "hand_off",
    "handoff_of",
    "librarian_replied",
    "requester_replied",
    "view_pairs",
]
