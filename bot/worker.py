"""`kmb worker`: the scheduler and the outbox delivery, without the web server."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Mapping

from aiohttp import web

from bot.directory import directory_of
from bot.engine import Engine
from bot.handoff import service as handoff_service
from bot.inbox_worker import InboxWorker
from bot.metrics import Metrics
from bot.outbox import Courier, Sender, platform_limits
from bot.preflight import listen_problem
from bot.scheduling.scheduler import Scheduling
from bot.server import make_app

log = logging.getLogger(__name__)


async def work(
    engine: Engine,
    senders: Mapping[str, Sender],
    worker: str = "worker",
    scheduler: bool = True,
    stop: asyncio.Event | None = None,
    concurrency: int = 32,
    batch: int = 200,
    metrics_at: tuple[str, int] | None = None,
) -> Courier:
    """Run the inbox, schedule and deliver until SIGTERM/SIGINT (or `stop`); the delivery, for
    its stats.

    With `metrics_at` (host, port), this worker's own counters are served at `/metrics`
    (with `/healthz`), for a Prometheus that scrapes every process.
    """
    settings = engine.settings
    senders = {**senders, **handoff_service.senders(engine)}  # the library's queue, if set
    metrics = Metrics(engine.store, senders)
    delivery = Courier(
        engine.store,
        senders,
        worker=worker,
        concurrency=concurrency,
        batch=batch,
        limits=platform_limits(
            settings.kmb_slack_workspace_per_second, settings.kmb_teams_tenant_per_second
        ),
        metrics=metrics,
    )
    engine.directory = directory_of(senders.values())
    scheduling = Scheduling(engine, engine.directory, on_work=delivery.wake) if scheduler else None
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    runner = None
    if metrics_at is not None:
        runner = web.AppRunner(make_app(engine, metrics, desk=False))
        await runner.setup()
        site = web.TCPSite(runner, *metrics_at)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            raise listen_problem(*metrics_at, exc) from exc
    mailbox = None
    if scheduling is not None:
        await scheduling.start()
        mailbox = handoff_service.start(engine, stop)
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
        if mailbox is not None:
            stop.set()
            await mailbox
        if scheduling is not None:
            await scheduling.stop()
        if runner is not None:
            await runner.cleanup()
        engine.store.engine.dispose()
        print("kmb worker stopped", flush=True)
    return delivery
