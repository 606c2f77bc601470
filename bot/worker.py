"""`kmb worker`: the scheduler and the outbox delivery, without the web server."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Mapping

from bot.directory import directory_of
from bot.engine import Engine
from bot.inbox import InboxWorker
from bot.outbox import Delivery, platform_limits
from bot.scheduling.scheduler import Scheduling
from bot.sending import Sender

log = logging.getLogger(__name__)


async def work(
    engine: Engine,
    senders: Mapping[str, Sender],
    worker: str = "worker",
    scheduler: bool = True,
    stop: asyncio.Event | None = None,
    concurrency: int = 32,
    batch: int = 200,
) -> Delivery:
    """Run the inbox, schedule and deliver until SIGTERM/SIGINT (or `stop`); the delivery, for
    its stats."""
    settings = engine.settings
    delivery = Delivery(
        engine.store,
        senders,
        worker=worker,
        concurrency=concurrency,
        batch=batch,
        limits=platform_limits(
            settings.kmb_slack_workspace_per_second, settings.kmb_teams_tenant_per_second
        ),
    )
    scheduling = (
        Scheduling(engine, directory_of(senders.values()), on_work=delivery.wake)
        if scheduler
        else None
    )
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    if scheduling is not None:
        await scheduling.start()
    print(
        f"kmb worker {worker}: delivering for {', '.join(senders) or 'no platform'}"
        f"{'' if scheduling else ' (scheduler off)'}",
        flush=True,
    )
    inbox = InboxWorker(engine, platforms=list(senders))
    engine.on_change.append(delivery.wake)
    try:
        await asyncio.gather(delivery.run(stop), inbox.run(stop))
    finally:
        if scheduling is not None:
            await scheduling.stop()
        engine.store.engine.dispose()
        print("kmb worker stopped", flush=True)
    return delivery
