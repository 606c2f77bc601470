"""Slow clients cannot starve `kmb serve`: header and body timeouts, and a connection cap.

A real server on loopback with small limits (half-second timeouts, 40 connections). The
attackers hold connections open with half-sent headers or a trickled body; `/healthz` must
still answer, and every attacking connection must be closed by the server, not the test.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import pytest

from adapters import mount
from bot.clock import FakeClock
from bot.config import Settings
from bot.engine import Engine
from bot.features import register_all
from bot.server import Running
from bot.store import Store

CAP = 40
PATIENCE = 10.0  # seconds before the test gives up waiting; never a measured duration


@pytest.fixture
async def server(
    request: pytest.FixtureRequest, catalogue: Any, clock: FakeClock, sqlite_url: str
) -> AsyncIterator[Running]:
    """kmb serve with half-second timeouts and a cap of 40, or `@pytest.mark.limits(…)`."""
    marker = request.node.get_closest_marker("limits")
    limits = {"header": 0.5, "body": 0.5, "cap": CAP} | (marker.kwargs if marker else {})
    settings = Settings(
        database_url=sqlite_url,
        kmb_header_timeout=limits["header"],
        kmb_body_timeout=limits["body"],
        kmb_max_connections=limits["cap"],
    )
    store = Store(sqlite_url, clock)
    store.upgrade()
    engine = Engine(store, catalogue, clock, settings)
    register_all(engine)
    running = Running(engine, mount, scheduler=False)
    await running.start()
    yield running
    await running.stop()
    store.engine.dispose()


async def _connect(url: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    parts = urlsplit(url)
    return await asyncio.open_connection(parts.hostname, parts.port)


async def _closed_by_server(reader: asyncio.StreamReader) -> bytes:
    """Everything the server sends until it closes the connection."""
    async with asyncio.timeout(PATIENCE):
        return await reader.read()


@pytest.mark.limits(header=2.0)  # long enough that the cap, not the timeout, is reached first
async def test_half_sent_headers_neither_lock_out_healthz_nor_stay_open(server: Running) -> None:
    slow = [await _connect(server.url) for _ in range(3 * CAP)]
    for _, writer in slow:
        writer.write(b"POST /api/messages HTTP/1.1\r\nHost: kmb\r\nContent-Ty")
        await writer.drain()
    started = time.monotonic()
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=PATIENCE)) as http,
        http.get(f"{server.url}/healthz") as r,
    ):
        assert r.status == 200 and (await r.json())["database"] is True
    assert time.monotonic() - started < PATIENCE
    assert server.admission is not None and server.admission.evicted >= CAP
    for reader, writer in slow:
        assert b"200 OK" not in await _closed_by_server(reader)  # closed, never answered
        writer.close()


async def test_an_idle_connection_is_closed_after_the_header_timeout(server: Running) -> None:
    reader, writer = await _connect(server.url)
    assert await _closed_by_server(reader) == b""
    writer.close()


async def test_a_trickled_body_gets_408_and_never_reaches_the_route(server: Running) -> None:
    reader, writer = await _connect(server.url)
    writer.write(
        b"POST /api/messages HTTP/1.1\r\nHost: kmb\r\nContent-Type: application/json\r\n"
        b'Content-Length: 1000\r\n\r\n{"type": "mess'
    )
    await writer.drain()
    answer = await _closed_by_server(reader)
    assert answer.startswith(b"HTTP/1.1 408 ")
    writer.close()


async def test_a_body_over_one_megabyte_is_refused_with_413(server: Running) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{server.url}/api/messages",
            data=b"x" * (1024 * 1024 + 1),
            headers={"Content-Type": "application/json"},
        ) as r,
    ):
        assert r.status == 413


@pytest.mark.limits(body=3.0, cap=2)
async def test_over_the_cap_with_every_connection_in_a_request_a_newcomer_gets_503(
    server: Running,
) -> None:
    busy = [await _connect(server.url) for _ in range(2)]
    for _, writer in busy:  # each is in a request, reading its body: none may be evicted
        writer.write(
            b"POST /api/messages HTTP/1.1\r\nHost: kmb\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100\r\n\r\n{"
        )
        await writer.drain()
    async with asyncio.timeout(PATIENCE):
        while len(server._runner.server.connections) < 2 or any(  # type: ignore[union-attr]
            getattr(h, "_current_request", None) is None
            for h in server._runner.server.connections  # type: ignore[union-attr]
        ):
            await asyncio.sleep(0.01)
    reader, writer = await _connect(server.url)
    assert (await _closed_by_server(reader)).startswith(b"HTTP/1.1 503 ")
    assert server.admission is not None and server.admission.refused == 1
    writer.close()
    for reader, writer in busy:
        assert (await _closed_by_server(reader)).startswith(b"HTTP/1.1 408 ")
        writer.close()
