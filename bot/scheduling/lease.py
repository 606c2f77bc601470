"""A lease row decides which process runs a duty (the scheduler): exactly one per database.

The holder renews it with a heartbeat; when it stops (crash, network split, shutdown without
release) the lease expires and another process takes over. Taking and renewing are one
conditional UPDATE (or an INSERT racing on the primary key), so two processes can never both
believe they hold it at the same instant of the database's clock.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from bot.store import Store
from bot.store.models import Lease

SCHEDULER = "scheduler"


class LeaseHolder:
    """One process's claim on a named lease."""

    def __init__(self, store: Store, name: str, holder: str, ttl: float = 30.0) -> None:
        self.store = store
        self.name = name
        self.holder = holder
        self.ttl = dt.timedelta(seconds=ttl)

    def acquire(self) -> bool:
        """Take or renew the lease; True while this process holds it."""
        now = self.store.now()
        with self.store.session() as s:
            result = s.execute(
                update(Lease)
                .where(
                    col(Lease.name) == self.name,
                    or_(col(Lease.holder) == self.holder, col(Lease.expires_at) < now),
                )
                .values(holder=self.holder, expires_at=now + self.ttl, renewed_at=now)
            )
            if getattr(result, "rowcount", 0) == 1:
                return True
        try:
            with self.store.session() as s:
                s.add(
                    Lease(
                        name=self.name,
                        holder=self.holder,
                        expires_at=now + self.ttl,
                        renewed_at=now,
                    )
                )
            return True
        except IntegrityError:
            return False  # someone else holds it and it has not expired

    def release(self) -> None:
        """Give the lease up at once (a clean shutdown), so a standby need not wait."""
        with self.store.session() as s:
            s.execute(
                update(Lease)
                .where(col(Lease.name) == self.name, col(Lease.holder) == self.holder)
                .values(expires_at=self.store.now() - dt.timedelta(seconds=1))
            )

    def current(self) -> Lease | None:
        """The lease row as it stands."""
        with self.store.session() as s:
            return s.get(Lease, self.name)


def running(store: Store, name: str = SCHEDULER) -> bool:
    """True if some process holds the lease now (a `kmb serve` or `kmb worker` is running)."""
    with store.session() as s:
        lease = s.get(Lease, name)
        if lease is None:
            return False
        expires = lease.expires_at
        if expires.tzinfo is None:  # SQLite hands datetimes back without their zone
            expires = expires.replace(tzinfo=dt.UTC)
        return expires > store.now()
