"""`/metrics`: what an operator alerts on, in Prometheus' conventions.

Counters and the turn-latency histogram are kept in this process (a restart resets them, as
Prometheus expects). Gauges are read from the database at scrape time, with one cheap grouped
query each, so every process reports the same numbers whichever one is scraped; the scrape
runs in a worker thread, never on the event loop. A feature adds a gauge of its own with the
`database_gauge` decorator (every process's /metrics then reports it), e.g. the inbox's
backlog once its table exists:

    @database_gauge("kmb_inbound_backlog", "Inbound events saved, not yet handled", ("platform",))
    def inbound_backlog(s: Session, now: dt.datetime) -> Iterable[Sample]:
        return [((platform,), n) for platform, n in s.exec(...)]
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func
from sqlmodel import Session, col, select

from bot.messages import Inbound
from bot.outbox import SendResult
from bot.scheduling.lease import SCHEDULER
from bot.store import Store
from bot.store.models import Enquiry, InboxItem, Lease, OutboxMessage

# A sample: its label values (in the gauge's label order) and its value.
Sample = tuple[tuple[str, ...], float]
OUTBOX_WAITING = ("pending", "sending", "parked")  # always reported, 0 when empty
TURN_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass(frozen=True)
class DatabaseGauge:
    """A gauge computed from the database when scraped."""

    name: str
    help: str
    labels: tuple[str, ...]
    read: Callable[[Session, dt.datetime], Iterable[Sample]]


Read = Callable[[Session, dt.datetime], Iterable[Sample]]
REGISTERED: list[DatabaseGauge] = []  # features' gauges, added to every Metrics


def database_gauge(name: str, help: str, labels: tuple[str, ...] = ()) -> Callable[[Read], Read]:
    """Register a gauge read from the database at scrape time (a decorator on its reader)."""

    def register(read: Read) -> Read:
        REGISTERED.append(DatabaseGauge(name, help, labels, read))
        return read

    return register


class Metrics:
    """kmb's metrics registry: in-process counters and database gauges."""

    def __init__(self, store: Store, platforms: Iterable[str] = ()) -> None:
        self.store = store
        self.platforms = tuple(platforms)
        self.registry = CollectorRegistry()
        r = self.registry
        self.http_requests = Counter(
            "kmb_http_requests", "HTTP requests served, by route", ["route"], registry=r
        )
        self.sends = Counter(
            "kmb_outbox_sends",
            "Outbox send attempts by platform and result "
            "(sent, retry: will be tried again, parked: given up, unreachable: person gone)",
            ["platform", "result"],
            registry=r,
        )
        self.rate_limited = Counter(
            "kmb_rate_limited",
            "Sends a platform refused with 429 Too Many Requests",
            ["platform"],
            registry=r,
        )
        self.turns = Histogram(
            "kmb_turn_duration_seconds",
            "Time to handle one inbound message, command, button or form, in seconds",
            ["platform", "kind"],
            buckets=TURN_BUCKETS,
            registry=r,
        )
        Gauge("kmb_start_time_seconds", "When this process started (Unix time)", registry=r).set(
            time.time()
        )
        self.gauges: list[DatabaseGauge] = []
        for gauge in [*default_gauges(self), *REGISTERED]:
            self.gauge(gauge)
        r.register(_FromDatabase(self))

    def gauge(self, gauge: DatabaseGauge) -> None:
        """Report another gauge read from the database at scrape time."""
        self.gauges.append(gauge)

    def observe_turn(self, inbound: Inbound, seconds: float) -> None:
        """One turn handled (the engine calls this after each)."""
        self.turns.labels(inbound.platform, inbound.kind).observe(seconds)

    def observe_send(self, platform: str, result: SendResult, parked: bool) -> None:
        """One send attempt's outcome (the outbox calls this as it records it)."""
        if result.ok:
            outcome = "sent"
        elif result.unreachable:
            outcome = "unreachable"
        elif parked:
            outcome = "parked"
        else:
            outcome = "retry"
        self.sends.labels(platform, outcome).inc()
        if result.rate_limited:
            self.rate_limited.labels(platform).inc()

    def render(self) -> bytes:
        """The exposition text (blocking: database reads; call it off the event loop)."""
        return generate_latest(self.registry)


class _FromDatabase(Collector):
    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[GaugeMetricFamily]:
        store = self.metrics.store
        with store.session() as s:
            now = store.now()
            for gauge in self.metrics.gauges:
                family = GaugeMetricFamily(gauge.name, gauge.help, labels=list(gauge.labels))
                for labels, value in gauge.read(s, now):
                    family.add_metric(list(labels), value)
                yield family


# --- the gauges every kmb reports ----------------------------------------------------------


def default_gauges(metrics: Metrics) -> list[DatabaseGauge]:
    """Outbox depth and age, the scheduler lease, and enquiries past their promise."""

    def outbox_depth(s: Session, now: dt.datetime) -> Iterable[Sample]:
        counts = {
            (platform, status): float(n)
            for platform, status, n in s.exec(
                select(OutboxMessage.platform, OutboxMessage.status, func.count())
                .where(col(OutboxMessage.status).in_(OUTBOX_WAITING))
                .group_by(col(OutboxMessage.platform), col(OutboxMessage.status))
            )
        }
        platforms = sorted({p for p, _ in counts} | set(metrics.platforms))
        return [
            ((p, status), counts.get((p, status), 0.0))
            for p in platforms
            for status in OUTBOX_WAITING
        ]

    def oldest_due(s: Session, now: dt.datetime) -> Iterable[Sample]:
        rows = s.exec(
            select(OutboxMessage.platform, func.min(OutboxMessage.due_at))
            .where(OutboxMessage.status == "pending", col(OutboxMessage.due_at) <= now)
            .group_by(col(OutboxMessage.platform))
        )
        return [((p,), _age(now, due)) for p, due in rows if due is not None]

    def lease(s: Session, now: dt.datetime) -> Iterable[Sample]:
        row = s.get(Lease, SCHEDULER)
        if row is None:
            return []
        return [((row.holder,), -_age(now, row.expires_at))]

    def lease_held(s: Session, now: dt.datetime) -> Iterable[Sample]:
        row = s.get(Lease, SCHEDULER)
        return [((), 1.0 if row is not None and _aware(row.expires_at) > now else 0.0)]

    def past_promise(s: Session, now: dt.datetime) -> Iterable[Sample]:
        open_ = Enquiry.status != "closed"
        late = s.exec(select(func.count()).where(open_, col(Enquiry.deadline) < now.date())).one()
        unclaimed = s.exec(
            select(func.count()).where(
                Enquiry.status == "new", col(Enquiry.nudged_at).is_not(None)
            )
        ).one()
        return [(("deadline",), float(late)), (("claim",), float(unclaimed))]

    def inbound_backlog(s: Session, now: dt.datetime) -> Iterable[Sample]:
        rows = s.exec(
            select(InboxItem.platform, func.count())
            .where(InboxItem.status == "pending")
            .group_by(col(InboxItem.platform))
        )
        counts = {str(p): float(n) for p, n in rows}
        return [((p,), counts.get(p, 0.0)) for p in sorted(set(counts) | set(metrics.platforms))]

    return [
        DatabaseGauge(
            "kmb_outbox_messages",
            "Outbox messages not yet delivered, by platform and status "
            "(pending: waiting its turn, sending: claimed by a worker, parked: given up)",
            ("platform", "status"),
            outbox_depth,
        ),
        DatabaseGauge(
            "kmb_outbox_oldest_due_age_seconds",
            "How long the oldest due, undelivered outbox message has waited, in seconds",
            ("platform",),
            oldest_due,
        ),
        DatabaseGauge(
            "kmb_inbound_backlog",
            "Inbound messages saved and acknowledged but not yet handled, by platform",
            ("platform",),
            inbound_backlog,
        ),
        DatabaseGauge(
            "kmb_scheduler_lease_held",
            "1 when a process holds an unexpired scheduler lease; 0: nothing is scheduling",
            (),
            lease_held,
        ),
        DatabaseGauge(
            "kmb_scheduler_lease_expires_in_seconds",
            "Seconds until the scheduler lease expires (negative: expired), by its holder",
            ("holder",),
            lease,
        ),
        DatabaseGauge(
            "kmb_enquiries_past_promise",
            "Open enquiries past a promise: deadline (past their deadline) or "
            "claim (unclaimed past the library's claim-within time)",
            ("promise",),
            past_promise,
        ),
    ]


def _aware(when: dt.datetime) -> dt.datetime:
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def _age(now: dt.datetime, then: dt.datetime) -> float:
    return (now - _aware(then)).total_seconds()
