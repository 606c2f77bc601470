"""`kmb serve`: health and metrics over real HTTP on loopback; clean shutdown on SIGTERM."""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import aiohttp
from aiohttp import web

from bot.server import make_app


async def _serve(engine):
    runner = web.AppRunner(make_app(engine))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}"


async def test_healthz_and_metrics(engine) -> None:
    runner, base = await _serve(engine)
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{base}/healthz") as r:
                assert r.status == 200
                body = await r.json()
                assert body["database"] is True and body["tools"] >= 19
            async with http.get(f"{base}/metrics") as r:
                assert r.status == 200
                assert 'kmb_http_requests_total{route="/healthz"} 1.0' in await r.text()
    finally:
        await runner.cleanup()


async def test_healthz_is_503_when_the_database_is_gone(make_engine, tmp_path: Path) -> None:
    db = tmp_path / "sub" / "k.db"
    db.parent.mkdir()
    engine = make_engine(f"sqlite:///{db}")
    engine.store.engine.dispose()
    db.parent.chmod(0o000)
    os.rename(db.parent, tmp_path / "gone")
    runner, base = await _serve(engine)
    try:
        async with aiohttp.ClientSession() as http, http.get(f"{base}/healthz") as r:
            assert r.status == 503 and (await r.json())["database"] is False
    finally:
        await runner.cleanup()
        (tmp_path / "gone").chmod(0o755)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_kmb_serve_starts_answers_and_stops_on_sigterm(tmp_path: Path) -> None:
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'k.db'}", "PORT": str(port)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "serve"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                    assert r.status == 200
                    break
            except OSError:
                assert time.monotonic() < deadline, "kmb serve did not come up"
                assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
                time.sleep(0.1)  # polling a child process, not the code under test
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=20)
        assert proc.returncode == 0 and "kmb stopped" in out
    finally:
        if proc.poll() is None:
            proc.kill()
