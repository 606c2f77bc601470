"""Teams turn benchmark: kmb against a bare Agents SDK echo bot and a bare botbuilder echo bot.

Every party runs in its own process: kmb started as an operator would (`python -m bot serve`,
Teams in loopback anonymous mode, SQLite), the Agents SDK echo bot (`teams_bots/sdk_echo.py`),
the botbuilder echo bot (`teams_bots/botbuilder_echo.py`, in a throwaway virtualenv under /tmp:
botbuilder is retired and is no kmb dependency), the fake Bot Connector
(`teams_bots/connector.py`) and this load generator. Each round posts N activities at
concurrency C to each bot in turn (the order rotates every round), half `help` and half
`tool capture lessons from a finished project`, and times each one from its POST to its
*answer* (a message activity replying to it) arriving at the connector. Printed: requests/s
(N over the time from the first POST to the last answer), p50 and p99 per bot, medians over
the rounds, and kmb's throughput over the Agents SDK echo bot's. Goal: kmb p99 <= 300 ms at
concurrency 50 and >= 0.8x the bare Agents SDK bot's throughput.

    .venv/bin/python bench/teams_turn.py [--n 1000] [--concurrency 50] [--rounds 3]
        [--no-botbuilder] [--only kmb] [--kmb-workers N] [--database-url URL]

`--kmb-workers` adds `kmb worker` processes (inbox turns and delivery) beside `kmb serve`, as a
deployment may; `--database-url` runs kmb on PostgreSQL instead of a new SQLite file.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
BOTS = Path(__file__).resolve().parent / "teams_bots"
BOTBUILDER_VENV = Path(tempfile.gettempdir()) / "kmb-bench-botbuilder"
TEXTS = ("help", "tool capture lessons from a finished project")
PEOPLE = 200  # conversations: Teams allows 60 sends in 30 s to one, and kmb's outbox keeps to it
# kmb's outbox paces Teams sends to the per-tenant limit (KMB_TEAMS_TENANT_PER_SECOND, 30 by
# default): with it the answer rate is capped at 30/s by design. The fake connector does not
# throttle and the echo bots do not pace, so the benchmark lifts the budget to measure kmb.
TENANT_PER_SECOND = "1000"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _botbuilder_python(install: bool) -> Path | None:
    """A Python that can import botbuilder (made under /tmp if need be), or None."""
    python = BOTBUILDER_VENV / "bin" / "python"
    check = [str(python), "-c", "import botbuilder.integration.aiohttp"]
    if python.exists() and subprocess.run(check, capture_output=True).returncode == 0:
        return python
    if not install:
        return None
    print(f"installing botbuilder into {BOTBUILDER_VENV} (baseline only) ...", flush=True)
    made = subprocess.run([sys.executable, "-m", "venv", str(BOTBUILDER_VENV)]).returncode == 0
    pip = [str(python), "-m", "pip", "install", "-q"]
    pip += ["botbuilder-core", "botbuilder-integration-aiohttp"]
    if made and subprocess.run(pip, capture_output=True).returncode == 0:
        return python
    return None


class Party:
    """One process: a bot or the connector."""

    def __init__(
        self,
        name: str,
        argv: list[str],
        port: int,
        env: dict[str, str],
        log: Path,
        start: bool = True,
    ) -> None:
        self.name, self.port, self.argv, self.env = name, port, argv, env
        self.url = f"http://127.0.0.1:{port}/api/messages"
        self.log = log.open("w")
        self.process: subprocess.Popen[bytes] | None = None
        if start:
            self.start()

    def start(self) -> None:
        self.process = subprocess.Popen(
            self.argv,
            cwd=ROOT,
            env={**os.environ, **self.env},
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def exited(self) -> bool:
        return self.process is not None and self.process.poll() is not None

    async def ready(self, http: aiohttp.ClientSession, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.exited():
                raise RuntimeError(f"{self.name} exited; see {self.log.name}")
            try:
                async with http.get(f"http://127.0.0.1:{self.port}/") as r:
                    await r.read()
                    return
            except aiohttp.ClientConnectionError:
                await asyncio.sleep(0.2)
        raise RuntimeError(f"{self.name} did not start; see {self.log.name}")

    def stop(self) -> None:
        if self.process is None:
            self.log.close()
            return
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


def _activity(ident: str, i: int, service_url: str, text: str) -> dict[str, Any]:
    person = i % PEOPLE
    return {
        "type": "message",
        "id": ident,
        "serviceUrl": service_url,
        "channelId": "msteams",
        "from": {"id": f"29:bench-user-{person}", "name": f"User {person}"},
        "recipient": {"id": "28:bench-bot", "name": "kmb"},
        "conversation": {"id": f"a:bench-{person}", "conversationType": "personal"},
        "text": text,
        "locale": "en-GB",
    }


async def _answers(
    http: aiohttp.ClientSession, control: str, wait: bool = True
) -> list[dict[str, Any]]:
    async with http.get(f"{control}/bench/answers", params={"wait": str(int(wait))}) as r:
        found: list[dict[str, Any]] = await r.json()
        return found


async def _round(
    http: aiohttp.ClientSession,
    bot: Party,
    service_url: str,
    control: str,
    label: str,
    n: int,
    concurrency: int,
) -> dict[str, float]:
    """N activities from C virtual users: each sends its next message once the answer to the
    last one has reached the connector (as a person waits for kmb's answer). For the echo bots
    the answer arrives before their 200; kmb answers from its inbox after the 200, so waiting
    for the 200 alone would let the generator outrun it and time a queue, not a turn."""
    while await _answers(http, control, wait=False):  # forget anything left over
        pass
    sent: dict[str, float] = {}
    arrived: dict[str, float] = {}
    answered: dict[str, asyncio.Event] = {}
    failures = 0
    done = asyncio.Event()

    async def collect() -> None:
        while not done.is_set():
            for answer in await _answers(http, control):
                key = answer["reply_to"]
                if key in sent and key not in arrived:
                    arrived[key] = answer["at"]
                    answered[key].set()

    async def user(u: int) -> None:
        nonlocal failures
        for i in range(u, n, concurrency):
            ident = f"{label}-{i}"
            body = _activity(ident, i, service_url, TEXTS[i % 2])
            answered[ident] = asyncio.Event()
            sent[ident] = time.perf_counter()
            async with http.post(bot.url, json=body) as r:
                await r.read()
                failures += r.status >= 300
            try:
                await asyncio.wait_for(answered[ident].wait(), 30)
            except TimeoutError:
                return

    collector = asyncio.ensure_future(collect())
    start = time.perf_counter()
    await asyncio.gather(*(user(u) for u in range(concurrency)))
    done.set()
    await collector
    ms = sorted((at - sent[k]) * 1000 for k, at in arrived.items())
    last = max(arrived.values(), default=start)
    return {
        "rps": len(arrived) / (last - start) if arrived else 0.0,
        "p50": statistics.median(ms) if ms else float("nan"),
        "p99": ms[min(len(ms) - 1, int(len(ms) * 0.99))] if ms else float("nan"),
        "answered": len(arrived) / n,
        "failed": failures,
    }


@contextmanager
def _parties(
    folder: Path, botbuilder: Path | None, kmb_workers: int = 0, database_url: str = ""
) -> Iterator[dict[str, Party]]:
    python = sys.executable
    kmb_env = {
        "DATABASE_URL": database_url or f"sqlite:///{folder}/kmb.db",
        "HOST": "127.0.0.1",
        "MICROSOFT_APP_ID": "",  # Teams in anonymous (loopback) mode
        "SLACK_BOT_TOKEN": "",
        "KMB_TEAMS_TENANT_PER_SECOND": TENANT_PER_SECOND,
    }
    parties: dict[str, Party] = {}
    try:
        port = _free_port()
        parties["connector"] = Party(
            "connector",
            [python, str(BOTS / "connector.py"), str(port)],
            port,
            {},
            folder / "connector.log",
        )
        port = _free_port()
        parties["kmb"] = Party(
            "kmb",
            [python, "-m", "bot", "serve", "--port", str(port)],
            port,
            kmb_env,
            folder / "kmb.log",
        )
        for w in range(kmb_workers):  # `kmb worker` processes beside `kmb serve`, same database
            argv = [python, "-m", "bot", "worker", "--id", f"bench-{w}", "--no-scheduler"]
            log = folder / f"kmb_worker_{w}.log"
            worker = Party(f"kmb worker {w}", argv, 0, kmb_env, log, start=False)
            parties[worker.name] = worker
        port = _free_port()
        parties["agents-sdk echo"] = Party(
            "agents-sdk echo",
            [python, str(BOTS / "sdk_echo.py"), str(port)],
            port,
            {},
            folder / "sdk_echo.log",
        )
        if botbuilder is not None:
            port = _free_port()
            parties["botbuilder echo"] = Party(
                "botbuilder echo",
                [str(botbuilder), str(BOTS / "botbuilder_echo.py"), str(port)],
                port,
                {},
                folder / "botbuilder_echo.log",
            )
        yield parties
    finally:
        for party in parties.values():
            party.stop()


async def main(
    n: int,
    concurrency: int,
    rounds: int,
    install_botbuilder: bool,
    only: list[str],
    kmb_workers: int = 0,
    database_url: str = "",
) -> None:
    botbuilder = _botbuilder_python(install_botbuilder)
    if botbuilder is None:
        print("note: no botbuilder virtualenv; the botbuilder baseline is skipped")
    with (
        tempfile.TemporaryDirectory() as tmp,
        _parties(Path(tmp), botbuilder, kmb_workers, database_url) as parties,
    ):
        connector = parties.pop("connector")
        workers = [parties.pop(name) for name in list(parties) if name.startswith("kmb worker")]
        control = f"http://127.0.0.1:{connector.port}"
        timeout = aiohttp.ClientTimeout(total=120)
        limits = aiohttp.TCPConnector(limit=concurrency + 8)
        async with aiohttp.ClientSession(timeout=timeout, connector=limits) as http:
            for party in (connector, *parties.values()):
                await party.ready(http)
            for worker in workers:  # once kmb serve has made the database
                worker.start()
            await asyncio.sleep(3 if workers else 0)
            for worker in workers:
                if worker.exited():
                    raise RuntimeError(f"{worker.name} exited; see {worker.log.name}")
            log_of_connector = Path(connector.log.name).read_text().split()
            service_url = log_of_connector[0] if log_of_connector else ""
            bots = [p for p in parties.values() if not only or p.name in only]
            for bot in bots:  # warm up: kmb's people and conversations exist, code is hot
                await _round(http, bot, service_url, control, f"{bot.name}-warm", 100, 10)
            results: dict[str, list[dict[str, float]]] = {b.name: [] for b in bots}
            for r in range(rounds):
                order = bots[r % len(bots) :] + bots[: r % len(bots)]
                for bot in order:
                    label = f"{bot.name}-r{r}"
                    result = await _round(http, bot, service_url, control, label, n, concurrency)
                    results[bot.name].append(result)
                    print(
                        f"  round {r + 1} {bot.name:16} {result['rps']:7.1f} req/s  "
                        f"p50 {result['p50']:7.1f} ms  p99 {result['p99']:7.1f} ms  "
                        f"answered {result['answered']:.0%}",
                        flush=True,
                    )
    print(f"\n{n} activities x {rounds} rounds at concurrency {concurrency}, medians:")
    print(f"  (kmb's Teams pacing lifted to {TENANT_PER_SECOND}/s; by default it is 30/s)")
    medians: dict[str, dict[str, float]] = {}
    for name, runs in results.items():
        medians[name] = {k: statistics.median(x[k] for x in runs) for k in ("rps", "p50", "p99")}
        m = medians[name]
        print(f"  {name:16} {m['rps']:7.1f} req/s  p50 {m['p50']:7.1f} ms  p99 {m['p99']:7.1f} ms")
    sdk = medians.get("agents-sdk echo", {}).get("rps")
    if sdk:
        ratio = medians["kmb"]["rps"] / sdk
        p99 = medians["kmb"]["p99"]
        print(f"  kmb / agents-sdk echo throughput: {ratio:.2f}x (goal >= 0.8x)")
        print(f"  kmb p99: {p99:.0f} ms (goal <= 300 ms)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--no-botbuilder", action="store_true", help="do not install the botbuilder baseline"
    )
    parser.add_argument(
        "--only", action="append", default=[], help="run only this bot (kmb, agents-sdk echo, ...)"
    )
    parser.add_argument(
        "--kmb-workers",
        type=int,
        default=0,
        help="also run this many `kmb worker` processes (inbox turns, delivery) on its database",
    )
    parser.add_argument(
        "--database-url", default="", help="kmb's database (default: a new SQLite file)"
    )
    args = parser.parse_args()
    install = not args.no_botbuilder
    asyncio.run(
        main(
            args.n,
            args.concurrency,
            args.rounds,
            install,
            args.only,
            args.kmb_workers,
            args.database_url,
        )
    )
