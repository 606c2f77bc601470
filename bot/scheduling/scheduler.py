"""The application's scheduler: APScheduler 3.x owned by `serve`/`worker`, one active per database.

`Scheduling.start()` creates an `AsyncIOScheduler` (never a module global) and a heartbeat that
holds the scheduler lease. Only the lease holder has work jobs: on taking the lease it rebuilds
dated jobs from our own tables (the job store is memory, so it never shares the SQLite file
the engine writes), plus a sweep that does anything due. Every job is idempotent against the
rows, with `misfire_grace_time=None` and `coalesce=True`: after downtime each overdue step runs
exactly once, late rather than never.

Times are the injected clock's: a step due at clock time T is scheduled `T - clock.now()` from
the real now, so a fake clock in tests and the system clock in production behave alike.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import socket
import uuid
from typing import TYPE_CHECKING, Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.directory import Directory, NoDirectory
from bot.scheduling import jobs
from bot.scheduling.lease import SCHEDULER, LeaseHolder

if TYPE_CHECKING:
    from collections.abc import Callable

    from bot.engine import Engine

log = logging.getLogger(__name__)
WORK = "work:"


def holder_name() -> str:
    """This process's name in the lease: host, pid and a random suffix."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Scheduling:
    """The scheduler of one process; active only while it holds the lease."""

    def __init__(
        self,
        engine: Engine,
        directory: Directory | None = None,
        holder: str | None = None,
        lease_ttl: float = 30.0,
        sweep_every: float = 60.0,
        horizon: dt.timedelta = dt.timedelta(hours=36),
        on_work: Callable[[], None] | None = None,
    ) -> None:
        self.engine = engine
        self.directory = directory or NoDirectory()
        self.key = holder or holder_name()
        self.lease = LeaseHolder(engine.store, SCHEDULER, self.key, lease_ttl)
        self.lease_ttl = lease_ttl
        self.sweep_every = sweep_every
        self.horizon = horizon
        self.on_work = on_work
        self.active = False
        self.scheduler: AsyncIOScheduler | None = None
        self._running: set[asyncio.Task[Any]] = set()

    # --- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        """Create and start the APScheduler instance; try to take the lease at once."""
        self.scheduler = AsyncIOScheduler(timezone=dt.UTC)
        jobs.LIVE[self.key] = self
        self.scheduler.start()
        self.scheduler.add_job(
            jobs.heartbeat_job,
            IntervalTrigger(seconds=max(0.5, self.lease_ttl / 3)),
            args=[self.key],
            id="lease:heartbeat",
            replace_existing=True,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=int(self.lease_ttl),
        )
        await self.heartbeat()

    async def stop(self, release: bool = True) -> None:
        """Let running steps finish, shut the scheduler down, release the lease."""
        was_active, self.active = self.active, False
        others = self._running - {asyncio.current_task()}
        if others:
            await asyncio.gather(*others, return_exceptions=True)
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=False)
            self.scheduler = None
        jobs.LIVE.pop(self.key, None)
        if was_active and release:
            self.lease.release()

    # --- lease -------------------------------------------------------------------------

    async def heartbeat(self) -> bool:
        """Renew or take the lease; start or stop the work jobs when that changes."""
        try:
            held = await asyncio.to_thread(self.lease.acquire)
        except Exception:
            log.exception("scheduler lease check failed; standing down")
            held = False
        if held and not self.active:
            self.active = True
            log.info("scheduler %s is active", self.key)
            self._add_repeating()
            await self.rebuild()
        elif not held and self.active:
            self.active = False
            log.warning("scheduler %s lost the lease; standing by", self.key)
            self._remove_work()
        return held

    def _add_repeating(self) -> None:
        if self.scheduler is None:
            return
        self.scheduler.add_job(
            jobs.sweep_job,
            IntervalTrigger(seconds=self.sweep_every),
            args=[self.key],
            id=f"{WORK}sweep",
            replace_existing=True,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=None,
            next_run_time=dt.datetime.now(dt.UTC),  # catch up at once after a takeover
        )
        for chore in self.engine.periodic:  # features' housekeeping, also lease-holder only
            self.scheduler.add_job(
                jobs.chore_job,
                IntervalTrigger(seconds=chore.every_s),
                args=[self.key, chore.name],
                id=f"{WORK}chore:{chore.name}",
                replace_existing=True,
                coalesce=True,
                max_instances=1,
                misfire_grace_time=None,
                next_run_time=dt.datetime.now(dt.UTC),
            )
        self.scheduler.add_job(
            jobs.rebuild_job,
            IntervalTrigger(minutes=15),
            args=[self.key],
            id=f"{WORK}rebuild",
            replace_existing=True,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=None,
        )

    def _remove_work(self) -> None:
        if self.scheduler is None:
            return
        for job in self.scheduler.get_jobs():
            if job.id.startswith(WORK):
                job.remove()

    # --- jobs --------------------------------------------------------------------------

    def _wall(self, when: dt.datetime) -> dt.datetime:
        delay = max(dt.timedelta(0), when - self.engine.clock.now())
        return dt.datetime.now(dt.UTC) + delay

    async def rebuild(self) -> int:
        """Dated jobs for every step due within the horizon (deterministic ids, replaced)."""
        if not self.active or self.scheduler is None:
            return 0
        until = self.engine.clock.now() + self.horizon
        items = await asyncio.to_thread(jobs.upcoming, self.engine, until)
        for item in items:
            self.scheduler.add_job(
                jobs.step_job,
                DateTrigger(run_date=self._wall(item.when)),
                args=[self.key, item.step, item.ident],
                id=WORK + item.job_id,
                replace_existing=True,
                coalesce=True,
                max_instances=1,
                misfire_grace_time=None,  # late rather than never: the row says if it's still due
            )
        return len(items)

    def job_ids(self) -> list[str]:
        """The scheduled job ids (for `kmb outbox`-style inspection and tests)."""
        return sorted(j.id for j in self.scheduler.get_jobs()) if self.scheduler else []

    def _track(self) -> asyncio.Task[Any] | None:
        task = asyncio.current_task()
        if task is not None:
            self._running.add(task)
            task.add_done_callback(self._running.discard)
        return task

    async def run_job(self, step: str, ident: int) -> None:
        """One dated step, if this process still holds the lease."""
        if not self.active:
            return
        task = self._track()
        try:
            if await jobs.run_step(self.engine, self.directory, step, ident):
                self._worked()
        except Exception:
            log.exception("scheduled step %s %s failed; the sweep will retry", step, ident)
        finally:
            if task is not None:
                self._running.discard(task)

    async def run_chore(self, name: str) -> None:
        """One feature chore (idempotent), if this process still holds the lease."""
        chore = next((c for c in self.engine.periodic if c.name == name), None)
        if not self.active or chore is None:
            return
        task = self._track()
        try:
            await asyncio.to_thread(chore.run, self.engine)
            self._worked()
        except Exception:
            log.exception("%s failed; it runs again later", name)
        finally:
            if task is not None:
                self._running.discard(task)

    async def sweep(self) -> jobs.Done:
        """Everything due now (the safety net, and what tests call with a fake clock)."""
        if not self.active:
            return jobs.Done()
        task = self._track()
        try:
            done = await jobs.run_due(self.engine, self.directory)
        except Exception:
            log.exception("scheduler sweep failed; trying again next time")
            return jobs.Done()
        finally:
            if task is not None:
                self._running.discard(task)
        if done.total:
            self._worked()
        return done

    async def tick(self) -> jobs.Done:
        """A heartbeat, then a sweep: what the repeating jobs do, on demand."""
        await self.heartbeat()
        return await self.sweep()

    def _worked(self) -> None:
        if self.on_work is not None:
            self.on_work()
