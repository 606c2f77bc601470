"""A local fake of Slack: the Web API, response URLs and a Socket Mode WebSocket, on loopback.

A real aiohttp server that records every call kmb makes and answers as Slack does. Tests and
benchmarks can queue failures (`fail`), and turn on Slack's posting limits (about one message
a second per channel, plus a workspace budget) so 429s with `Retry-After` happen for real.
Given the bot token's `scopes` (the ones kmb's manifest asks for), a call outside them answers
Slack's `missing_scope` error, so a method kmb starts calling without asking for its scope
fails in tests as it would in a real workspace. It speaks HTTP only; it imports no Slack SDK.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
import uuid
from collections import defaultdict, deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import WSMsgType, web


@dataclass
class Call:
    """One Web API call as the fake received it."""

    method: str
    args: dict[str, Any]
    token: str = ""
    result: dict[str, Any] | None = None  # what the fake answered (e.g. a view's id and hash)

    @property
    def blocks(self) -> list[dict[str, Any]]:
        """The call's blocks, decoded whether sent as JSON or a form field."""
        raw = self.args.get("blocks") or []
        return json.loads(raw) if isinstance(raw, str) else list(raw)


@dataclass
class Failure:
    """A queued refusal for one method."""

    status: int = 200
    error: str = "internal_error"
    retry_after: int | None = None
    delay: float = 0.0


@dataclass
class Limits:
    """Slack's posting limits: per-channel spacing and a workspace budget per minute."""

    per_channel_s: float = 1.0
    workspace_per_min: int | None = None
    last_post: dict[str, float] = field(default_factory=dict)
    window: deque[float] = field(default_factory=deque)


# The conversation types Slack's scopes are named by, from a conversation id's first letter.
KINDS = {"C": "channels", "G": "groups", "D": "im"}


def scopes_needed(method: str, args: dict[str, Any]) -> tuple[str, ...]:
    """The bot scopes Slack accepts for a call (any one will do); () when none is needed."""
    if method in ("chat.postMessage", "chat.postEphemeral", "chat.update", "chat.delete"):
        return ("chat:write",)
    if method in ("users.info", "users.list"):
        return ("users:read",)
    if method == "conversations.open":
        return ("mpim:write",) if "," in str(args.get("users", "")) else ("im:write",)
    kind = KINDS.get(str(args.get("channel", ""))[:1], "channels")
    if method in ("conversations.members", "conversations.info"):
        return (f"{kind}:read",)
    if method in ("conversations.history", "conversations.replies"):
        return (f"{kind}:history",)
    return ()  # views.*, auth.test, apps.connections.open (app token)…


class FakeSlack:
    """Start with `await FakeSlack().start()`; `api_url` goes in `SLACK_API_URL`.

    `scopes`: the bot token's scopes (None: every call is allowed, as for benchmarks).
    """

    def __init__(
        self,
        token: str = "xoxb-test",
        users: dict[str, dict[str, Any]] | None = None,
        scopes: Iterable[str] | None = None,
    ):
        self.token = token
        self.users = users or {}
        self.scopes = None if scopes is None else frozenset(scopes)
        self.calls: list[Call] = []
        self.responses: list[dict[str, Any]] = []  # what arrived at response URLs
        self.response_times: dict[str, float] = {}  # response URL id → arrival (epoch s)
        self.response_bodies: dict[str, list[dict[str, Any]]] = defaultdict(list)  # id → posts
        self.failures: dict[str, deque[Failure]] = defaultdict(deque)
        self.limits: Limits | None = None
        self.rate_limited = 0
        self.members: dict[str, list[str]] = {}
        self.history: dict[str, list[dict[str, Any]]] = defaultdict(list)  # posts per channel
        self.views: dict[str, dict[str, Any]] = {}  # open modals by view id (id, hash, view)
        self._ts = itertools.count(1)
        self._sockets: list[web.WebSocketResponse] = []
        self._acks: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._runner: web.AppRunner | None = None
        self.base = ""
        self.changed = asyncio.Event()

    # --- life cycle --------------------------------------------------------------------

    async def start(self, port: int = 0) -> FakeSlack:
        """Listen on a loopback port (0: any free one)."""
        app = web.Application()
        app.router.add_get("/_times", self._times)
        app.router.add_get("/_responses", self._responses)
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/respond/{id}", self._respond)
        app.router.add_get("/socket", self._socket)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base = f"http://127.0.0.1:{port}"
        return self

    async def stop(self) -> None:
        """Close sockets and stop listening."""
        for ws in self._sockets:
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def api_url(self) -> str:
        """The Web API base URL (with the trailing slash slack-sdk needs)."""
        return f"{self.base}/api/"

    def response_url(self) -> str:
        """A fresh response URL, as Slack puts in a slash command."""
        return f"{self.base}/respond/{uuid.uuid4().hex[:8]}"

    # --- test helpers --------------------------------------------------------------------

    def fail(self, method: str, times: int = 1, **failure: Any) -> None:
        """Make the next `times` calls to `method` fail as described."""
        for _ in range(times):
            self.failures[method].append(Failure(**failure))

    def enforce_limits(
        self, per_channel_s: float = 1.0, workspace_per_min: int | None = None
    ) -> None:
        """Answer 429 (with Retry-After) to posts faster than Slack allows."""
        self.limits = Limits(per_channel_s, workspace_per_min)

    def of(self, method: str) -> list[Call]:
        """The calls made to one method, oldest first."""
        return [c for c in self.calls if c.method == method]

    async def wait_for(self, method: str, count: int = 1, timeout: float = 30.0) -> list[Call]:
        """Wait until `count` calls to `method` have arrived (kmb works after its ack).

        The timeout only bounds a hang (the wait ends as soon as the calls are there); the
        fakes' waits allow 30 s because 5 s failed on a loaded 2-CPU machine."""
        deadline = time.monotonic() + timeout
        while len(self.of(method)) < count:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(
                    f"{method}: {len(self.of(method))} of {count} calls arrived; "
                    f"calls: {[c.method for c in self.calls]}"
                )
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), timeout=min(left, 0.2))
        return self.of(method)

    async def wait_responses(self, count: int = 1, timeout: float = 30.0) -> list[dict[str, Any]]:
        """Wait for `count` posts to response URLs."""
        deadline = time.monotonic() + timeout
        while len(self.responses) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(self.responses)} of {count} responses arrived")
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), timeout=0.2)
        return self.responses

    # --- Socket Mode -----------------------------------------------------------------------

    async def connected(self, timeout: float = 30.0) -> None:
        """Wait until a Socket Mode client is connected."""
        deadline = time.monotonic() + timeout
        while not self._sockets:
            if time.monotonic() > deadline:
                raise AssertionError("no Socket Mode client connected")
            await asyncio.sleep(0.02)

    async def push(
        self, kind: str, payload: dict[str, Any], timeout: float = 30.0
    ) -> dict[str, Any]:
        """Send an envelope over Socket Mode and return the client's acknowledgement."""
        envelope_id = uuid.uuid4().hex
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._acks[envelope_id] = future
        envelope = {
            "envelope_id": envelope_id,
            "type": kind,
            "payload": payload,
            "accepts_response_payload": kind != "events_api",
            "retry_attempt": 0,
            "retry_reason": "",
        }
        await self._sockets[-1].send_str(json.dumps(envelope))
        return await asyncio.wait_for(future, timeout)

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_str(json.dumps({"type": "hello", "num_connections": 1}))
        self._sockets.append(ws)
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                data = json.loads(msg.data)
                future = self._acks.pop(data.get("envelope_id", ""), None)
                if future is not None and not future.done():
                    future.set_result(data)
        self._sockets.remove(ws)
        return ws

    # --- the Web API ---------------------------------------------------------------------

    async def _times(self, request: web.Request) -> web.Response:
        """When each response URL was answered (for benchmarks in another process)."""
        return web.json_response(self.response_times)

    async def _responses(self, request: web.Request) -> web.Response:
        """What arrived at each response URL (for benchmarks checking the answers)."""
        return web.json_response(self.response_bodies)

    async def _respond(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.responses.append(body)
        self.response_bodies[request.match_info["id"]].append(body)
        self.response_times.setdefault(request.match_info["id"], time.time())
        self.changed.set()
        return web.Response(text="ok")

    async def _args(self, request: web.Request) -> dict[str, Any]:
        args: dict[str, Any] = dict(request.query)
        body = await request.read()
        if body:
            if request.content_type == "application/json":
                args.update(json.loads(body))
            else:
                args.update(dict(parse_qsl(body.decode())))
        return args

    def _limited(self, method: str, args: dict[str, Any]) -> int | None:
        if self.limits is None or method != "chat.postMessage":
            return None
        now = time.monotonic()
        channel = str(args.get("channel"))
        last = self.limits.last_post.get(channel)
        if last is not None and now - last < self.limits.per_channel_s:
            return max(1, round(self.limits.per_channel_s - (now - last) + 0.5))
        budget = self.limits.workspace_per_min
        window = self.limits.window
        while window and now - window[0] > 60:
            window.popleft()
        if budget is not None and len(window) >= budget:
            return max(1, round(60 - (now - window[0]) + 0.5))
        self.limits.last_post[channel] = now
        window.append(now)
        return None

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        args = await self._args(request)
        auth = request.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ") or str(args.get("token", ""))
        call = Call(method, args, token)
        self.calls.append(call)
        self.changed.set()
        if token not in (self.token, "xapp-test"):
            return web.json_response({"ok": False, "error": "invalid_auth"})
        needed = scopes_needed(method, args)
        granted = self.scopes
        if token == self.token and granted is not None and needed and not granted & set(needed):
            return web.json_response(
                {
                    "ok": False,
                    "error": "missing_scope",
                    "needed": ",".join(needed),
                    "provided": ",".join(sorted(granted)),
                }
            )
        queued = self.failures.get(method)
        if queued:
            f = queued.popleft()
            if f.delay:
                await asyncio.sleep(f.delay)
            headers = {"Retry-After": str(f.retry_after)} if f.retry_after is not None else {}
            return web.json_response(
                {"ok": False, "error": f.error}, status=f.status, headers=headers
            )
        wait = self._limited(method, args)
        if wait is not None:
            self.rate_limited += 1
            return web.json_response(
                {"ok": False, "error": "ratelimited"},
                status=429,
                headers={"Retry-After": str(wait)},
            )
        call.result = self._answer(method, args)
        return web.json_response(call.result)

    def _answer(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
        if method in ("chat.postMessage", "chat.update"):
            ts = args.get("ts") or f"{1700000000 + next(self._ts)}.000100"
            channel = str(args.get("channel", ""))
            if channel.startswith("U"):
                channel = "D" + channel[1:]  # a DM addressed by user id lands in the app DM
            if method == "chat.postMessage":
                metadata = args.get("metadata")
                if isinstance(metadata, str):
                    metadata = json.loads(metadata)
                self.history[channel].append(
                    {
                        "ts": ts,
                        "text": args.get("text"),
                        **({"metadata": metadata} if metadata else {}),
                    }
                )
            return {
                "ok": True,
                "channel": channel,
                "ts": ts,
                "message": {"text": args.get("text")},
            }
        if method == "chat.postEphemeral":
            return {"ok": True, "message_ts": f"{1700000000 + next(self._ts)}.000200"}
        if method in ("views.open", "views.publish", "views.update", "views.push"):
            # As Slack: a view keeps its id for life; its hash changes only when the app
            # updates it (an `errors` answer to a submission changes neither).
            view = args.get("view") or {}
            view = json.loads(view) if isinstance(view, str) else dict(view)
            view_id = str(args.get("view_id") or f"V{next(self._ts):06d}")
            view_hash = f"{time.time_ns()}.{uuid.uuid4().hex[:8]}"
            self.views[view_id] = {"id": view_id, "hash": view_hash, "view": view}
            return {"ok": True, "view": {**view, "id": view_id, "hash": view_hash}}
        if method == "users.info":
            user = str(args.get("user"))
            info = self.users.get(user, {})
            return {
                "ok": True,
                "user": {
                    "id": user,
                    "is_bot": bool(info.get("is_bot")),
                    "deleted": bool(info.get("deleted")),
                    "name": user.lower(),
                    "tz": info.get("tz", "Europe/London"),
                    "profile": {"real_name": info.get("real_name", f"Person {user}")},
                },
            }
        if method == "conversations.open":
            return {"ok": True, "channel": {"id": "D" + str(args.get("users", "X"))[1:]}}
        if method == "conversations.history":
            channel = str(args.get("channel", ""))
            if channel.startswith("U"):
                channel = "D" + channel[1:]
            newest_first = list(reversed(self.history.get(channel, [])))
            limit = int(args.get("limit", 100))
            return {"ok": True, "messages": newest_first[:limit], "has_more": False}
        if method == "conversations.members":
            return {
                "ok": True,
                "members": self.members.get(str(args.get("channel")), []),
                "response_metadata": {"next_cursor": ""},
            }
        if method == "apps.connections.open":
            return {"ok": True, "url": self.base.replace("http", "ws") + "/socket"}
        if method == "auth.test":
            return {"ok": True, "user_id": "UKMB", "bot_id": "BKMB", "team_id": "T1"}
        return {"ok": True}
