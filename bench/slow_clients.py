"""Slow clients against a real `kmb serve` with a 1,024 file-descriptor limit.

    .venv/bin/python bench/slow_clients.py --connections 1100

Starts `kmb serve` (defaults: 10 s header timeout, connection cap half the fd limit) with
RLIMIT_NOFILE 1024, opens N connections that each send half a request's headers and then
nothing, and meanwhile asks /healthz every 0.25 s. Prints /healthz's latency (p50, max,
failures) while under attack, how many attacking connections the server closed and how soon,
and how many are still open at the end. Issue 10 measured 1,100 such connections keeping
/healthz from answering for over 90 s, and 500 staying open for 150 s.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _limit_fds() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 1024))


async def _healthz(port: int) -> float | str:
    """Seconds /healthz took, or why it did not answer 200 within 5 s."""
    started = time.perf_counter()
    try:
        async with asyncio.timeout(5):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: kmb\r\nConnection: close\r\n\r\n")
            answer = await reader.read()
            writer.close()
    except TimeoutError:
        return "no answer in 5 s"
    except OSError as exc:
        return type(exc).__name__
    if answer.startswith(b"HTTP/1.1 200"):
        return time.perf_counter() - started
    return (answer.split(b"\r\n", 1)[0] or b"closed without an answer").decode()


async def _hold(port: int, closed: list[float], started: float) -> None:
    """Open a connection, send half the headers, and wait for the server to close it."""
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST /slack/events HTTP/1.1\r\nHost: kmb\r\nContent-Ty")
        await writer.drain()
        await reader.read()
        closed.append(time.perf_counter() - started)
        writer.close()
    except OSError:
        closed.append(time.perf_counter() - started)


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=1100)
    parser.add_argument("--seconds", type=float, default=25.0, help="how long to watch")
    args = parser.parse_args()
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # the attacker needs many fds
    port = _free_port()
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "DATABASE_URL": f"sqlite:///{tmp}/k.db",
            "PORT": str(port),
            "PYTHONPATH": str(ROOT),
        }
        server = subprocess.Popen(
            [sys.executable, "-m", "bot", "serve", "--no-scheduler"],
            env=env,
            cwd=tmp,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=_limit_fds,
        )
        try:
            while isinstance(await _healthz(port), str):
                if server.poll() is not None:
                    print("kmb serve did not start")
                    return 1
                await asyncio.sleep(0.2)
            started = time.perf_counter()
            closed: list[float] = []
            holders = [
                asyncio.create_task(_hold(port, closed, started)) for _ in range(args.connections)
            ]
            latencies: list[float | str] = []
            while time.perf_counter() - started < args.seconds:
                latencies.append(await _healthz(port))
                await asyncio.sleep(0.25)
            still_open = sum(1 for t in holders if not t.done())
            for t in holders:
                t.cancel()
        finally:
            server.terminate()
            server.wait(20)
    answered = [x for x in latencies if isinstance(x, float)]
    missed = Counter(x for x in latencies if isinstance(x, str))
    print(f"kmb serve with RLIMIT_NOFILE 1024, {args.connections} half-sent connections")
    print(
        f"/healthz during the attack: {len(answered)}/{len(latencies)} answered, "
        f"p50 {statistics.median(answered) * 1000:.0f} ms, max {max(answered) * 1000:.0f} ms"
        if answered
        else f"/healthz during the attack: 0/{len(latencies)} answered"
    )
    for reason, count in missed.items():
        print(f"  not answered: {count} × {reason}")
    if closed:
        print(
            f"attacking connections closed by the server: {len(closed)} "
            f"(first after {min(closed):.1f} s, median {statistics.median(closed):.1f} s, "
            f"last after {max(closed):.1f} s)"
        )
    print(f"still open after {args.seconds:.0f} s: {still_open}")
    return 0 if answered and len(answered) == len(latencies) and still_open == 0 else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
