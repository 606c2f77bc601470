"""Fuzzing kmb's two public endpoints through a real `kmb serve` process on loopback.

`Target` starts `kmb serve` (Slack over HTTP, Teams in Emulator mode) in its own process,
against a local fake Slack and a fake Bot Connector; the process may only connect to loopback.
The strategies make requests from the recorded payloads in tests/data: unsigned junk, signed
junk, and signed payloads with parts replaced, removed or nested deeply. `Target.send` fails
on a 5xx, on no answer within `ANSWER_WITHIN`, or on a dead process. Used by
tests/test_fuzz.py (a short run in CI) and bench/fuzz.py (a long run with figures).
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import hmac
import http.client
import json
import os
import re
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
from hypothesis import strategies as st

from bot.testing.fake_connector import FakeConnector
from bot.testing.fake_slack import FakeSlack

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
SECRET = "fuzz-signing-secret"
TOKEN = "xoxb-fuzz"
ANSWER_WITHIN = 10.0  # seconds; a request unanswered by then counts as a hang
SLACK_EVENTS = ("app_mention", "message_im", "app_home_opened")
SLACK_INTERACTIONS = ("block_actions", "view_submission", "message_action")
TEAMS_ACTIVITIES = (
    "personal_message",
    "channel_mention",
    "card_submit",
    "invoke_execute",
    "install_personal",
    "team_install",
    "uninstall_personal",
    "conversation_update_personal",
)

# `kmb serve`, with every connection and name lookup outside loopback refused.
LAUNCH = """
import socket, sys
LOOPBACK = ("127.0.0.1", "::1", "localhost")
real_connect, real_getaddrinfo = socket.socket.connect, socket.getaddrinfo
def connect(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6) and address[0] not in LOOPBACK:
        raise OSError(f"fuzzing: no network beyond loopback ({address[0]!r})")
    return real_connect(self, address)
def getaddrinfo(host, *args, **kwargs):
    if host not in LOOPBACK and host is not None:
        raise socket.gaierror(f"fuzzing: no name lookups ({host!r})")
    return real_getaddrinfo(host, *args, **kwargs)
socket.socket.connect, socket.getaddrinfo = connect, getaddrinfo
from kmb.cli import main
sys.exit(main(["serve", "--no-scheduler"]))
"""


def failed(request: Request, outcome: int | str) -> bool:
    """A 5xx, a hang, a dropped connection or a dead server. One 5xx is the protocol's own:
    an invoke whose name kmb does not handle is answered 501, as the Bot Framework asks."""
    if not isinstance(outcome, int):
        return True
    if outcome == 501 and request.path == "/api/messages":
        activity = json.loads(request.body)
        return activity.get("type") != "invoke" or activity.get("name") == "adaptiveCard/action"
    return outcome >= 500


def _load(folder: str, name: str) -> dict[str, Any]:
    return json.loads((DATA / folder / f"{name}.json").read_text())  # type: ignore[no-any-return]


def signed(body: bytes, timestamp: int | None = None) -> dict[str, str]:
    """Slack's signature headers over raw bytes."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    base = b"v0:" + ts.encode() + b":" + body
    digest = hmac.new(SECRET.encode(), base, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}


@dataclass(frozen=True)
class Request:
    """One request to send: where, what, and how it is labelled in the figures."""

    path: str
    body: bytes
    headers: dict[str, str]
    label: str


@dataclass
class Target:
    """A `kmb serve` process with Slack and Teams (Emulator mode), and the fakes it calls.

    The fakes run on the caller's event loop; `send` is synchronous, for a worker thread
    (hypothesis drives plain functions), so the loop stays free to answer kmb's calls.
    """

    workdir: Path
    teams_app_id: str = ""  # set: Teams authenticates every request (and none here can pass)
    fake_slack: FakeSlack = field(default_factory=lambda: FakeSlack(TOKEN))
    connector: FakeConnector = field(default_factory=FakeConnector)
    statuses: Counter[str] = field(default_factory=Counter)
    process: subprocess.Popen[bytes] | None = None
    port: int = 0

    async def start(self) -> Target:
        """Start the fakes and `kmb serve`; return once /healthz answers."""
        await self.fake_slack.start()
        await self.connector.start()
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        env = {
            **os.environ,
            "DATABASE_URL": f"sqlite:///{self.workdir / 'fuzz.db'}",
            "HOST": "127.0.0.1",
            "PORT": str(self.port),
            "SLACK_BOT_TOKEN": TOKEN,
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": self.fake_slack.api_url,
            "KMB_SLACK_LIBRARIAN_CHANNEL": "C0LIBRARY",
            "MICROSOFT_APP_ID": self.teams_app_id,
            "MICROSOFT_APP_PASSWORD": "fuzz" if self.teams_app_id else "",
            "MICROSOFT_APP_TENANT_ID": "00000000-0000-0000-0000-00000000c0de",
            "PYTHONPATH": str(ROOT),
        }
        if "FAKETIME" in env:  # under libfaketime (.ci/run): start the server's clock at ours
            now = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime())
            env["FAKETIME"] = f"@{now}"
        self.log = self.workdir / "serve.log"
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-c", LAUNCH], env=env, stdout=out, stderr=out, cwd=self.workdir
            )
        deadline = time.monotonic() + 60
        async with aiohttp.ClientSession() as http:
            while True:
                self.alive()
                try:
                    async with http.get(f"http://127.0.0.1:{self.port}/healthz") as r:
                        if r.status == 200:
                            return self
                except aiohttp.ClientError:
                    pass
                if time.monotonic() > deadline:
                    raise AssertionError("kmb serve did not start:\n" + self.log.read_text())
                await asyncio.sleep(0.1)

    def alive(self) -> None:
        """Fail if the server process has exited."""
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(
                f"kmb serve died ({self.process.returncode}):\n" + self.log.read_text()[-4000:]
            )

    def send(self, request: Request) -> int:
        """Send one request; fail on 5xx, no answer in time, or a dead server."""
        outcome = self.probe(request)
        assert not failed(request, outcome), f"{outcome} for {request!r}\n{self.tail()}"
        assert isinstance(outcome, int)
        return outcome

    def probe(self, request: Request) -> int | str:
        """Send one request: its status, or `hang`, `disconnected` or `dead`; counted."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=ANSWER_WITHIN)
        outcome: int | str
        try:
            conn.request("POST", request.path, body=request.body, headers=request.headers)
            response = conn.getresponse()
            response.read()
            outcome = response.status
        except TimeoutError:
            outcome = "hang"
        except (OSError, http.client.HTTPException):
            outcome = "disconnected"
        finally:
            conn.close()
        assert self.process is not None
        if self.process.poll() is not None:
            outcome = "dead"
        self.statuses[f"{request.label} {outcome}"] += 1
        return outcome

    def tail(self) -> str:
        """The end of the server's log."""
        return self.log.read_text(errors="replace")[-4000:]

    def tracebacks(self) -> list[str]:
        """Tracebacks the server logged (each with the line before it)."""
        lines = self.log.read_text(errors="replace").splitlines()
        return [
            "\n".join(lines[max(0, i - 1) : i + 12])
            for i, line in enumerate(lines)
            if line.startswith("Traceback")
        ]

    async def stop(self) -> None:
        """Stop kmb serve (SIGTERM) and the fakes."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                await asyncio.to_thread(self.process.wait, 20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        await self.fake_slack.stop()
        await self.connector.stop()


# --- strategies ------------------------------------------------------------------------------

TEXT = st.text(max_size=20) | st.sampled_from(["", "\ud800", "\udfff x", "kmb-0", "help", "D0X"])
SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXT
JSON = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, min_size=1, max_size=3)
        | st.dictionaries(TEXT, inner, min_size=1, max_size=3)
    ),
    max_leaves=8,
)


def nested(depth: int) -> str:
    """A stand-in for a list nested `depth` deep, written out only when encoding (deep JSON
    breaks naive recursive code: ours too, so the strategies never build it)."""
    return f"<deep:{depth}>"


_NO_BREAKS = str.maketrans("", "", "\r\n\x00")
_DEEP = re.compile(r'"<deep:(\d+)>"')


def _deepen(text: str) -> str:
    return _DEEP.sub(lambda m: "[" * int(m.group(1)) + "]" * int(m.group(1)), text)


def _paths(doc: Any, here: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [here]
    if isinstance(doc, dict):
        for key, value in doc.items():
            found += _paths(value, (*here, key))
    elif isinstance(doc, list):
        for i, value in enumerate(doc):
            found += _paths(value, (*here, i))
    return found


@st.composite
def mutated(draw: st.DrawFn, doc: dict[str, Any], keep: Callable[[dict[str, Any]], None]) -> Any:
    """`doc` with up to three parts replaced, removed or nested deeply; `keep` then puts back
    what must stay (URLs kmb would call)."""
    doc = copy.deepcopy(doc)
    for _ in range(draw(st.integers(0, 3))):
        path = draw(st.sampled_from(_paths(doc)))
        how = draw(st.sampled_from(["replace", "remove", "deep", "empty"]))
        if not path:
            doc = draw(JSON) if how == "replace" else doc
            continue
        parent = doc
        for step in path[:-1]:
            parent = parent[step]
        last = path[-1]
        if how == "remove":
            del parent[last]
        elif how == "deep":
            parent[last] = nested(draw(st.sampled_from([50, 500, 5000])))
        elif how == "empty":
            parent[last] = draw(st.sampled_from([None, "", [], {}, 0]))
        else:
            parent[last] = draw(JSON)
        if not isinstance(doc, dict):
            break
    if isinstance(doc, dict):
        keep(doc)
    return doc


def _encode(value: Any) -> bytes:
    return _deepen(json.dumps(value)).encode()


def slack_requests(response_url: str) -> st.SearchStrategy[Request]:
    """Signed and unsigned requests for POST /slack/events."""

    def keep(doc: dict[str, Any]) -> None:
        if isinstance(doc.get("response_url"), str):
            doc["response_url"] = response_url

    def form(doc: Any) -> bytes:
        if isinstance(doc, dict):
            fields = {k: v if isinstance(v, str) else json.dumps(v) for k, v in doc.items()}
            return urlencode(
                {
                    k: _deepen(f'"{v}"') if v.startswith("<deep:") else _deepen(v)
                    for k, v in fields.items()
                },
                errors="surrogatepass",  # a lone surrogate goes out as invalid UTF-8
            ).encode()
        return b""

    command = _load("slack", "slash_command") | {"response_url": response_url}
    commands = mutated(command, keep).map(form)
    events = (
        st.sampled_from(SLACK_EVENTS)
        .flatmap(lambda name: mutated(_load("slack", name), keep))
        .map(_encode)
    )
    interactions = (
        st.sampled_from(SLACK_INTERACTIONS)
        .flatmap(lambda name: mutated(_load("slack", name), keep))
        .map(lambda doc: urlencode({"payload": _encode(doc).decode()}).encode())
    )
    junk = st.binary(max_size=200) | st.sampled_from(
        [b"payload=null", b"payload=%7B", b"payload=%5B%5D", b"{", b"\xff\xfe{}", b"[]", b"null"]
    )
    bodies = st.one_of(commands, events, interactions, junk)
    content_types = st.sampled_from(
        ["application/json", "application/x-www-form-urlencoded", "text/plain", ""]
    )
    bad_headers = st.fixed_dictionaries(
        {},
        optional={
            "X-Slack-Request-Timestamp": st.sampled_from(
                ["", "abc", "1e3", "-1", "99999999999999"]
            )
            | st.integers().map(str),
            "X-Slack-Signature": st.sampled_from(["", "v0=", "v0=" + "0" * 64]) | TEXT,
        },
    )

    def sign(body: bytes, ctype: str) -> Request:
        return Request(
            "/slack/events", body, {"Content-Type": ctype, **signed(body)}, "slack signed"
        )

    def unsigned(body: bytes, ctype: str, headers: dict[str, str]) -> Request:
        safe = {  # any bytes a client can put in a header line (no line breaks)
            k: v.encode("utf-8", "replace").decode("latin-1").translate(_NO_BREAKS)
            for k, v in headers.items()
        }
        return Request("/slack/events", body, {"Content-Type": ctype, **safe}, "slack unsigned")

    return st.builds(sign, bodies, content_types) | st.builds(
        unsigned, bodies, content_types, bad_headers
    )


def teams_requests(service_url: str) -> st.SearchStrategy[Request]:
    """Activities for POST /api/messages (Emulator mode: no token)."""
    urls = (
        st.sampled_from(
            [
                service_url,
                service_url,
                "https://smba.trafficmanager.net/uk/",
                "http://203.0.113.9/",
                "http://localhost.example/",
                "",
            ]
        )
        | st.none()
        | st.integers()
    )

    def keep(doc: dict[str, Any]) -> None:
        if isinstance(doc.get("serviceUrl"), str) and doc["serviceUrl"].startswith("https://smba"):
            doc["serviceUrl"] = service_url

    def with_url(url: Any, doc: Any) -> Any:
        return doc | {"serviceUrl": url} if url != "keep" and isinstance(doc, dict) else doc

    activities = st.sampled_from(TEAMS_ACTIVITIES).flatmap(
        lambda name: st.builds(
            with_url,
            urls | st.just("keep"),
            mutated(_load("teams", name) | {"serviceUrl": service_url}, keep),
        )
    )
    bodies = (
        activities.map(_encode)
        | st.binary(max_size=200)
        | st.sampled_from(
            [b"null", b"{", b"[]", b'{"type": null}', b'{"type": "message"}', b"\xff"]
        )
    )
    content_types = st.sampled_from(
        ["application/json", "application/json; charset=utf-8", "text/plain"]
    )
    return st.builds(
        lambda body, ctype: Request("/api/messages", body, {"Content-Type": ctype}, "teams"),
        bodies,
        content_types,
    )


def teams_unauthenticated_requests(service_url: str) -> st.SearchStrategy[Request]:
    """Activities without a valid token, for a kmb that has an app id: all must be refused."""
    headers = st.sampled_from(
        [
            {},
            {"Authorization": ""},
            {"Authorization": "Basic YWxhZGRpbjpvcGVuc2VzYW1l"},
            {"Authorization": "Bearer"},
            {"Authorization": "Bearer not-a-jwt"},
            {"Authorization": "Bearer eyJhbGciOiJub25lIn0.eyJhdWQiOiJ4In0."},
        ]
    ) | st.builds(lambda t: {"Authorization": "Bearer " + t.translate(_NO_BREAKS)}, TEXT)

    def with_headers(request: Request, extra: dict[str, str]) -> Request:
        safe = {k: v.encode("utf-8", "replace").decode("latin-1") for k, v in extra.items()}
        return Request(request.path, request.body, request.headers | safe, "teams unsigned")

    return st.builds(with_headers, teams_requests(service_url), headers)
