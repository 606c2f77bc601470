"""The hand-off's health for `/metrics`: its outbox rows by state, held mail, the mailbox."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from prometheus_client.core import GaugeMetricFamily
from sqlmodel import col, func, select

from bot.handoff.imap import CURSOR
from bot.store import Store
from bot.store.models import HandoffMail, OutboxMessage

PLATFORMS = ("email", "libanswers")


class HandoffCollector:
    """Read at each scrape (a few small counts), so every process reports the same truth."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def collect(self) -> Iterator[Any]:
        """The gauges, from the database."""
        with self.store.session() as s:
            counts = s.exec(
                select(OutboxMessage.platform, OutboxMessage.status, func.count())
                .where(col(OutboxMessage.platform).in_(PLATFORMS))
                .group_by(col(OutboxMessage.platform), col(OutboxMessage.status))
            ).all()
            held = s.exec(
                select(func.count()).select_from(HandoffMail).where(HandoffMail.status == "held")
            ).one()
        outbox = GaugeMetricFamily(
            "kmb_handoff_outbox_messages",
            "Mail and tickets for libraries' own queues in the outbox, by state",
            labels=["platform", "status"],
        )
        for platform, status, n in counts:
            outbox.add_metric([platform, status], n)
        yield outbox
        yield GaugeMetricFamily(
            "kmb_handoff_mail_held", "Mail read back and held for an admin", value=held
        )
        state = self.store.get_setting(CURSOR) or {}
        if "checked_at" in state:
            yield GaugeMetricFamily(
                "kmb_handoff_mailbox_up",
                "1 when the last read of kmb's mailbox succeeded",
                value=1 if state.get("ok") else 0,
            )
            if state.get("ok_at"):
                at = dt.datetime.fromisoformat(state["ok_at"]).timestamp()
                yield GaugeMetricFamily(
                    "kmb_handoff_mailbox_last_success_timestamp_seconds",
                    "When kmb's mailbox was last read successfully",
                    value=at,
                )
