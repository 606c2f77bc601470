"""`kmb serve`: the aiohttp server with health and metrics; platform routes mount here."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
import time
from collections.abc import Callable, Mapping

from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    generate_latest,
)

from bot.directory import directory_of
from bot.engine import Engine
from bot.handoff import service as handoff_service
from bot.handoff.metrics import HandoffCollector
from bot.outbox import Delivery, platform_limits
from bot.scheduling.scheduler import Scheduling
from bot.sending import Sender

log = logging.getLogger(__name__)
ENGINE_KEY = web.AppKey("engine", Engine)
REGISTRY_KEY = web.AppKey("registry", CollectorRegistry)


def make_app(engine: Engine) -> web.Application:
    """The web application: `/healthz`, `/metrics`, and (later) the platform routes."""
    registry = CollectorRegistry()
    requests = Counter("kmb_http_requests", "HTTP requests served", ["route"], registry=registry)
    started = Gauge("kmb_start_time_seconds", "When this process started", registry=registry)
    started.set(time.time())
    registry.register(HandoffCollector(engine.store))  # libraries' own queues (issue 15)

    async def healthz(request: web.Request) -> web.Response:
        requests.labels("/healthz").inc()
        ok = await asyncio.to_thread(engine.store.ping)
        body = {
            "status": "ok" if ok else "unavailable",
            "database": ok,
            "tools": len(engine.catalogue.tools),
        }
        return web.json_response(body, status=200 if ok else 503)

    async def metrics(request: web.Request) -> web.Response:
        requests.labels("/metrics").inc()
        return web.Response(
            body=generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )

    app = web.Application(client_max_size=1024 * 1024)
    app[ENGINE_KEY] = engine
    app[REGISTRY_KEY] = registry
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    return app


Mount = Callable[[web.Application, Engine], Mapping[str, Sender]]


class Running:
    """kmb's web server and outbox delivery, started on a host and port."""

    def __init__(
        self,
        engine: Engine,
        mount: Mount | None = None,
        tick: float = 1.0,
        scheduler: bool = True,
    ) -> None:
        self.engine = engine
        self.app = make_app(engine)
        self.senders = dict(mount(self.app, engine)) if mount else {}
        # The library's own queue (mail, LibAnswers), when configured.
        self.senders.update(handoff_service.senders(engine))
        settings = engine.settings
        self.delivery = Delivery(
            engine.store,
            self.senders,
            limits=platform_limits(
                settings.kmb_slack_workspace_per_second, settings.kmb_teams_tenant_per_second
            ),
        )
        # Created here and started in `start`, so each running app owns its scheduler.
        self.scheduling = (
            Scheduling(engine, directory_of(self.senders.values()), on_work=self.delivery.wake)
            if scheduler
            else None
        )
        self.tick = tick
        self.url = ""
        self._stop = asyncio.Event()
        self._runner = web.AppRunner(self.app)
        self._delivering: asyncio.Task[None] | None = None
        self._mailbox: asyncio.Task[None] | None = None

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Listen (port 0: any free one) and start delivering; the base URL."""
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        bound = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://{host}:{bound}"
        self.engine.on_change.append(self.delivery.wake)
        self._delivering = asyncio.create_task(self.delivery.run(self._stop, self.tick))
        if self.scheduling is not None:
            await self.scheduling.start()
            self._mailbox = handoff_service.start(self.engine, self._stop)
        return self.url

    async def stop(self) -> None:
        """Stop scheduling and delivering, close connections, release the database."""
        if self.scheduling is not None:
            await self.scheduling.stop()
        self._stop.set()
        if self._delivering is not None:
            await self._delivering
        if self._mailbox is not None:
            await self._mailbox
        with contextlib.suppress(ValueError):
            self.engine.on_change.remove(self.delivery.wake)
        await self._runner.cleanup()


async def serve(
    engine: Engine,
    host: str,
    port: int,
    stop: asyncio.Event | None = None,
    mount: Mount | None = None,
    scheduler: bool = True,
) -> None:
    """Serve until SIGTERM/SIGINT (or `stop` is set), then shut down cleanly.

    `mount` adds the platforms' routes and returns their senders; the outbox is delivered
    through them for as long as the server runs.
    """
    # Turns run in a worker thread; hand the interpreter back to the event loop often so
    # acknowledgements are not kept waiting behind a turn (default 5 ms).
    sys.setswitchinterval(0.001)
    # Signals first: a SIGTERM that arrives while starting still shuts down cleanly.
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # not the main thread
            loop.add_signal_handler(sig, stop.set)
    running = Running(engine, mount, scheduler=scheduler)
    await running.start(host, port)
    log.info("kmb listening on %s", running.url)
    print(f"kmb listening on {running.url} (Ctrl-C to stop)", flush=True)
    try:
        await stop.wait()
    finally:
        await running.stop()
        engine.store.engine.dispose()
        print("kmb stopped", flush=True)
