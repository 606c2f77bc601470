"""End to end with the real commands: `kmb chat` gives the link, a running `kmb serve` honours it.

Both processes share a SQLite file and a clock pinned by `KMB_FAKE_NOW`; with no
`KMB_PUBLIC_URL`, the link points where `serve` listens (HOST and PORT).
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.desk_rig import LINK, client, sign_in

NOW = "2026-06-03T09:30:00+00:00"  # a Wednesday, 10:30 in London


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_a_link_from_kmb_chat_signs_in_to_kmb_serve(tmp_path: Path) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'k.db'}",
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "KMB_FAKE_NOW": NOW,
    }
    env.pop("KMB_PUBLIC_URL", None)
    kmb = [sys.executable, "-m", "bot"]
    subprocess.run([*kmb, "db", "upgrade"], env=env, check=True, capture_output=True, timeout=60)
    # `kmb chat --role` lasts for that chat only, so the desk (another process) needs the grant.
    grant = [*kmb, "roles", "grant", "librarian", "console:sam"]
    subprocess.run(grant, env=env, check=True, capture_output=True, timeout=60)
    serve = subprocess.Popen(
        [*kmb, "serve", "--no-scheduler"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
                    break
            except OSError:
                assert time.monotonic() < deadline, "kmb serve did not come up"
                assert serve.poll() is None
                await asyncio.sleep(0.1)  # polling a child process, not the code under test
        said = subprocess.run(
            [*kmb, "chat", "--user", "sam"],
            input="desk\n",
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout
        found = LINK.search(said)
        assert found and found.group(1) == f"http://127.0.0.1:{port}", said
        async with client() as http:
            r = await sign_in(http, found.group(0))
            assert r.status == 303
            async with http.get(f"http://127.0.0.1:{port}/desk/queue") as page:
                assert page.status == 200 and "Library queue" in await page.text()
    finally:
        serve.terminate()
        serve.communicate(timeout=20)
