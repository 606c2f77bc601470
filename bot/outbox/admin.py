"""The outbox's admin views (`kmb outbox`, `admin outbox`): what is waiting, failing or parked,
and sending a parked message again."""

from __future__ import annotations

from collections import Counter, defaultdict

from sqlalchemy import func, or_
from sqlmodel import col, select

from bot.store import Store
from bot.store.models import OutboxMessage
from bot.words import count as counted


def outbox_report(store: Store, limit: int = 20) -> list[str]:
    """Counts by status and platform, then the failing and parked messages with reasons."""
    with store.session() as s:
        counts = s.exec(
            select(OutboxMessage.platform, OutboxMessage.status, func.count())
            .group_by(col(OutboxMessage.platform), col(OutboxMessage.status))
            .order_by(col(OutboxMessage.platform), col(OutboxMessage.status))
        ).all()
        troubled = s.exec(
            select(OutboxMessage)
            .where(
                or_(
                    col(OutboxMessage.status) == "parked",
                    (col(OutboxMessage.status) == "pending") & (col(OutboxMessage.attempts) > 0),
                )
            )
            .order_by(col(OutboxMessage.id))
            .limit(limit)
        ).all()
    if not counts:
        return ["The outbox is empty."]
    by_platform: dict[str, Counter[str]] = defaultdict(Counter)
    for platform, status, n in counts:
        by_platform[platform][status] = n
    lines = ["Outbox:"]
    for platform, c in by_platform.items():
        parts = ", ".join(f"{n} {status}" for status, n in sorted(c.items()))
        lines.append(f"  {platform}: {parts}")
    for row in troubled:
        what = "parked" if row.status == "parked" else f"failing, next try {row.due_at:%H:%M:%S}"
        lines.append(
            f"  #{row.id} {row.dedupe_key} ({row.platform}) — {what} after "
            f"{counted(row.attempts, 'attempt')}: {row.last_error or 'no reason given'}"
        )
    if any(r.status == "parked" for r in troubled):
        lines.append(
            "Retry a parked message with `kmb outbox retry ID` (`admin outbox retry ID`)."
        )
    return lines


def retry_parked(store: Store, outbox_id: int) -> bool:
    """Send a parked message again (attempts reset); False if it isn't parked."""
    with store.session() as s:
        row = s.get(OutboxMessage, outbox_id)
        if row is None or row.status != "parked":
            return False
        row.status, row.attempts, row.due_at = "pending", 0, store.now()
        row.last_error = f"retried by hand (was: {row.last_error})"[:500]
        return True
