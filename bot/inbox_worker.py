"""The inbox worker: runs the rows `bot.inbox` keeps as turns, in order within a conversation and
side by side across them (`kmb serve` in-process, `kmb worker` on its own)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from bot.inbox import inbound_from_dict, pending

if TYPE_CHECKING:
    from bot.engine import Engine

log = logging.getLogger(__name__)


class InboxWorker:
    """Runs pending inbox rows as turns: on start, whenever woken, and every `tick` seconds.

    Rows of one conversation run in order; different conversations run side by side on the
    engine's turn threads.
    """

    def __init__(
        self,
        engine: Engine,
        platforms: Iterable[str],
        batch: int = 100,
    ) -> None:
        self.engine = engine
        self.platforms = list(platforms)
        self.batch = batch
        self.processed = 0
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Something was received: look now rather than at the next tick."""
        self._wake.set()

    async def run_once(self) -> int:
        """Run what is pending now; the number of rows taken."""
        if not self.platforms:
            return 0
        rows = await asyncio.to_thread(pending, self.engine.store, self.platforms, self.batch)
        lanes: dict[str, list[tuple[int, dict[str, Any]]]] = defaultdict(list)
        for item_id, payload in rows:
            conv = ((payload.get("inbound") or {}).get("conversation") or {}).get("id", "")
            lanes[str(conv)].append((item_id, payload))

        async def lane(queue: list[tuple[int, dict[str, Any]]]) -> int:
            done = 0
            for item_id, payload in queue:
                done += await self._run(item_id, payload)
            return done

        taken = sum(await asyncio.gather(*(lane(q) for q in lanes.values())))
        self.processed += taken
        return taken

    async def _run(self, item_id: int, payload: dict[str, Any]) -> int:
        try:
            inbound = inbound_from_dict(payload["inbound"])
        except (KeyError, TypeError, ValueError):
            log.exception("inbox row %s cannot be read; parking it", item_id)
            await asyncio.to_thread(self.engine.park_inbound, item_id, None, {}, "unreadable")
            return 0
        prepare = self.engine.preparers.get(inbound.platform)
        if prepare is not None:
            with contextlib.suppress(Exception):  # e.g. a display name: nice to have
                inbound = await prepare(inbound)
        route = payload.get("route") or {}
        await self.engine.receiver.quiet()
        loop = asyncio.get_running_loop()
        notice = str(payload.get("notice") or "")
        started = time.perf_counter()
        self.engine.use_loop(loop)  # a form's turn may ask the adapters' directory
        done = await loop.run_in_executor(
            self.engine.workers, self.engine.process_sync, item_id, inbound, route, notice
        )
        for observe in self.engine.on_turn:
            observe(inbound, time.perf_counter() - started)
        if done:  # its replies are queued: deliver them now, not after the whole batch
            for callback in self.engine.on_change:
                callback()
        return int(done)

    async def run(self, stop: asyncio.Event, tick: float = 1.0) -> None:
        """Work until `stop` is set."""
        while not stop.is_set():
            self._wake.clear()  # before looking, so a row received meanwhile wakes us again
            try:
                while await self.run_once() >= self.batch and not stop.is_set():
                    pass  # a backlog: keep going before waiting
            except Exception:
                log.exception("inbox worker failed; trying again")
            waiter = asyncio.ensure_future(self._wake.wait())
            stopper = asyncio.ensure_future(stop.wait())
            try:
                await asyncio.wait({waiter, stopper}, timeout=tick, return_when="FIRST_COMPLETED")
            finally:
                waiter.cancel()
                stopper.cancel()
