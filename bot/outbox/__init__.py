"""The outbox: every proactive message is a row before it is a message.

- `queue`: queue a post to a person or a channel, update or thread under one (in the caller's
  transaction);
- `delivery`: the `Courier` that claims due rows and sends them through each platform's sender;
- `pacing`: each platform's send limits and the retry backoff;
- `sending`: the `Sender` protocol adapters implement, and what a send returns;
- `admin`: what is waiting, failing or parked, and retrying a parked message.
"""

from bot.outbox.admin import outbox_report, retry_parked
from bot.outbox.delivery import Courier
from bot.outbox.pacing import PLATFORM_LIMITS, Limits, Pacer, platform_limits
from bot.outbox.queue import (
    enqueue,
    notify_channel,
    notify_person,
    posted_thread,
    remember_conversation,
    subject_of_thread,
    take_for_person,
    update_posted,
)
from bot.outbox.sending import SENDING_KEY, Reconciler, Responder, Sender, SendResult

__all__ = [
    "PLATFORM_LIMITS",
    "SENDING_KEY",
    "Courier",
    "Limits",
    "Pacer",
    "Reconciler",
    "Responder",
    "SendResult",
    "Sender",
    "enqueue",
    "notify_channel",
    "notify_person",
    "outbox_report",
    "platform_limits",
    "posted_thread",
    "remember_conversation",
    "retry_parked",
    "subject_of_thread",
    "take_for_person",
    "update_posted",
]
