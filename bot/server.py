"""`kmb serve`: the aiohttp server with health and metrics; platform routes mount here."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import resource
import signal
import sys
from collections.abc import Callable, Mapping

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.typedefs import Handler, Middleware
from prometheus_client import CONTENT_TYPE_LATEST

from bot.desk.auth import listening
from bot.desk.routes import mount as mount_desk
from bot.directory import directory_of
from bot.engine import Engine
from bot.handoff import service as handoff_service
from bot.handoff.metrics import HandoffCollector
from bot.inbox_worker import InboxWorker
from bot.metrics import Metrics
from bot.outbox import Courier, Sender, platform_limits
from bot.preflight import listen_problem
from bot.scheduling.scheduler import Scheduling

log = logging.getLogger(__name__)
BODY_LIMIT = 1024 * 1024  # bytes; larger requests are refused with 413
ENGINE_KEY = web.AppKey("engine", Engine)
METRICS_KEY = web.AppKey("metrics", Metrics)


def make_app(engine: Engine, metrics: Metrics | None = None, desk: bool = True) -> web.Application:
    """The web application: `/healthz`, `/metrics`, the desk, and (later) the platform routes."""
    metrics = metrics or Metrics(engine.store)
    metrics.registry.register(HandoffCollector(engine.store))  # libraries' own queues

    @web.middleware
    async def count(request: web.Request, handler: Handler) -> web.StreamResponse:
        route = request.match_info.route.resource
        metrics.http_requests.labels(route.canonical if route else "(unknown)").inc()
        return await handler(request)

    async def healthz(request: web.Request) -> web.Response:
        ok = await asyncio.to_thread(engine.store.ping)
        body = {
            "status": "ok" if ok else "unavailable",
            "database": ok,
            "tools": len(engine.catalogue.tools),
        }
        return web.json_response(body, status=200 if ok else 503)

    async def scrape(request: web.Request) -> web.Response:
        try:  # gauges read the database: off the event loop
            body = await asyncio.to_thread(metrics.render)
        except Exception:
            log.exception("metrics: the database did not answer")
            return web.Response(
                status=503, text="metrics unavailable: the database did not answer"
            )
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    app = web.Application(
        client_max_size=BODY_LIMIT,
        middlewares=[count, body_in_time(engine.settings.kmb_body_timeout)],
    )
    app[ENGINE_KEY] = engine
    app[METRICS_KEY] = metrics
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", scrape)
    if desk:  # a worker's metrics port serves no desk
        mount_desk(app, engine)
    return app


def body_in_time(seconds: float) -> Middleware:
    """Middleware: a request's whole body (at most `BODY_LIMIT`) is read within `seconds`.

    Read once here, the body is cached for the route, so a client that trickles its body can
    hold a connection for `seconds` at most and never reaches a handler.
    """

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.body_exists:
            try:
                async with asyncio.timeout(seconds):
                    await request.read()
            except TimeoutError:
                response = web.json_response({"error": "the body arrived too slowly"}, status=408)
                response.force_close()
                return response
        return await handler(request)

    return middleware


class _MalformedHttp(logging.Filter):
    """aiohttp logs a request it cannot parse (a bad header, a broken request line) with a
    traceback, though it answers 400 and nothing failed: one line is enough."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, HttpProcessingError):
            record.msg, record.args = "refused a malformed HTTP request: %s", (error.message,)
            record.exc_info, record.exc_text, record.levelno = None, None, logging.INFO
            record.levelname = "INFO"
        return True


QUIET_MALFORMED_HTTP = _MalformedHttp()


def connection_limit(configured: int) -> int:
    """The open-connection cap: as configured, or half the file-descriptor limit."""
    if configured > 0:
        return configured
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return 4096 if soft == resource.RLIM_INFINITY else max(16, min(4096, soft // 2))


class _Busy(asyncio.Protocol):
    """A connection over the cap with nobody to evict: told 503 and closed at once."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.WriteTransport)
        transport.write(
            b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\n"
            b"Retry-After: 1\r\nContent-Length: 0\r\n\r\n"
        )
        transport.close()


class Admission:
    """The listening socket's protocol factory: at most `limit` connections are open.

    At the cap, a new connection evicts the oldest one that is still waiting for a request
    (idle, or sending its headers slowly), so clients that hold connections without sending
    cannot lock out one that asks for something; if every connection is busy with a request,
    the newcomer gets 503. Headers and bodies have their own timeouts (`Running`).
    """

    def __init__(self, server: web.Server, limit: int) -> None:
        self.server = server
        self.limit = limit
        self.evicted = 0
        self.refused = 0

    def __call__(self) -> asyncio.BaseProtocol:
        # A closed connection stays listed until its task ends: count only the open ones.
        open_now = [h for h in self.server.connections if not _closing(h)]
        if len(open_now) >= self.limit:
            idle = next((h for h in open_now if _waiting(h)), None)  # the oldest first
            if idle is None:
                self.refused += 1
                return _Busy()
            idle.force_close()
            self.evicted += 1
        return self.server()


def _closing(handler: object) -> bool:
    """Whether an aiohttp connection is being closed."""
    return bool(getattr(handler, "_force_close", False) or getattr(handler, "_close", False))


def _waiting(handler: object) -> bool:
    """Whether an aiohttp connection is between requests: none handled and none queued."""
    return getattr(handler, "_current_request", None) is None and not getattr(
        handler, "_messages", None
    )


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
        self.metrics = Metrics(engine.store)
        self.app = make_app(engine, self.metrics)
        self.senders = dict(mount(self.app, engine)) if mount else {}
        # The library's own queue (mail, LibAnswers), when configured.
        self.senders.update(handoff_service.senders(engine))
        self.metrics.platforms = tuple(self.senders)
        settings = engine.settings
        self.delivery = Courier(
            engine.store,
            self.senders,
            limits=platform_limits(
                settings.kmb_slack_workspace_per_second, settings.kmb_teams_tenant_per_second
            ),
            metrics=self.metrics,
        )
        # Created here and started in `start`, so each running app owns its scheduler.
        engine.directory = directory_of(self.senders.values())
        self.scheduling = (
            Scheduling(engine, engine.directory, on_work=self.delivery.wake) if scheduler else None
        )
        # What was received and acknowledged, run as turns (also what a crash left pending).
        self.inbox = InboxWorker(engine, platforms=list(self.senders))
        self.tick = tick
        self.url = ""
        self._stop = asyncio.Event()
        # aiohttp closes a connection that has not sent a whole request `keepalive_timeout`
        # after it opened (or after its last response): that is the header timeout.
        # A body left unread (refused, or too slow) is drained for a second, not aiohttp's 10.
        self._runner = web.AppRunner(
            self.app, keepalive_timeout=settings.kmb_header_timeout, lingering_time=1.0
        )
        self.max_connections = connection_limit(settings.kmb_max_connections)
        self.admission: Admission | None = None
        self._listener: asyncio.Server | None = None
        self._delivering: asyncio.Task[None] | None = None
        self._inboxing: asyncio.Task[None] | None = None
        self._mailbox: asyncio.Task[None] | None = None

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Listen (port 0: any free one) and start delivering; the base URL."""
        logging.getLogger("aiohttp.server").addFilter(QUIET_MALFORMED_HTTP)
        await self._runner.setup()
        assert self._runner.server is not None
        self.admission = Admission(self._runner.server, self.max_connections)
        try:
            self._listener = await asyncio.get_running_loop().create_server(
                self.admission, host, port, reuse_address=True
            )
        except OSError as exc:
            await self._runner.cleanup()
            raise listen_problem(host, port, exc) from exc
        bound = self._listener.sockets[0].getsockname()[1]
        self.url = f"http://{host}:{bound}"
        listening(self.engine, self.url)  # desk links, when KMB_PUBLIC_URL is not set
        self.engine.on_change.append(self.delivery.wake)
        self.engine.on_turn.append(self.metrics.observe_turn)
        self.engine.on_inbound.append(self.inbox.wake)
        self._delivering = asyncio.create_task(self.delivery.run(self._stop, self.tick))
        self._inboxing = asyncio.create_task(self.inbox.run(self._stop, self.tick))
        if self.scheduling is not None:
            await self.scheduling.start()
            self._mailbox = handoff_service.start(self.engine, self._stop)
        return self.url

    async def stop(self) -> None:
        """Stop scheduling and delivering, close connections, release the database."""
        if self.scheduling is not None:
            await self.scheduling.stop()
        self._stop.set()
        if self._inboxing is not None:
            await self._inboxing
        if self._delivering is not None:
            await self._delivering
        if self._mailbox is not None:
            await self._mailbox
        with contextlib.suppress(ValueError):
            self.engine.on_change.remove(self.delivery.wake)
        with contextlib.suppress(ValueError):
            self.engine.on_turn.remove(self.metrics.observe_turn)
            self.engine.on_inbound.remove(self.inbox.wake)
        if self._listener is not None:
            self._listener.close()  # no new connections; cleanup closes the open ones
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
