"""A local fake of the Bot Framework Connector: a real aiohttp server on loopback.

Point an activity's `serviceUrl` (or a stored conversation reference) at `FakeConnector.url` and
every call kmb makes to Teams lands here: replies, proactive posts, card updates, new 1:1
conversations and member listings are recorded in `calls`. `fail_next` injects the refusals
Teams answers with (429 with Retry-After, 412, 502, 504, 403 MessageWritesBlocked, 404), so the
sender's mapping of each one can be checked. It knows nothing of any SDK: it speaks HTTP.

It is no kinder than the real connector: refusals carry the Bot Framework's error body
(`{"error": {"code", "message"}}`) with the codes Teams documents for each status (403
ConversationBlockedByUser, 404 ConversationNotFound, 412 PreconditionFailed, 429 Throttled with
an integer Retry-After, 502 ServiceError, 504 GatewayTimeout), an activity over Teams' ~28 KB
message limit is refused with 413 MessageSizeTooBig, and the paged members route answers as
`pagedmembers` and `pagedMembers` (the real service ignores the case).
"""

from __future__ import annotations

import asyncio
import itertools
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class ConnectorCall:
    """One request the bot made to the connector."""

    method: str
    path: str
    conversation_id: str
    activity_id: str | None
    body: Any
    headers: dict[str, str]
    query: dict[str, str] = field(default_factory=dict)
    at: float = field(default_factory=time.perf_counter)

    @property
    def kind(self) -> str:
        """`reply`, `post`, `update`, `create`, `members` or `other`."""
        if self.method == "PUT":
            return "update"
        if self.path == "/v3/conversations" and self.method == "POST":
            return "create"
        if self.path.lower().endswith("members"):
            return "members"
        if self.method == "POST" and self.activity_id:
            return "reply"
        if self.method == "POST":
            return "post"
        return "other"


# The codes Teams answers with (Microsoft Teams platform docs, "Status codes from bot
# conversational APIs").
CODES = {
    400: "BadArgument",
    403: "ConversationBlockedByUser",
    404: "ConversationNotFound",
    412: "PreconditionFailed",
    413: "MessageSizeTooBig",
    429: "Throttled",
    500: "ServiceError",
    502: "ServiceError",
    503: "ServiceUnavailable",
    504: "GatewayTimeout",
}
MAX_ACTIVITY_BYTES = 28 * 1024  # Teams refuses a message (text and cards) over about 28 KB


@dataclass
class _Failure:
    status: int
    headers: dict[str, str]
    body: dict[str, Any]
    kinds: frozenset[str]


class FakeConnector:
    """A recording Bot Connector; `url` is its service URL once started."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.url = ""
        self.calls: list[ConnectorCall] = []
        self.members: dict[str, list[dict[str, Any]]] = {}
        self.page_size = 2
        self.on_call: Callable[[ConnectorCall], None] | None = None
        self._failures: list[_Failure] = []
        self._ids = itertools.count(1000)
        self._runner: web.AppRunner | None = None
        self._arrived = asyncio.Condition()

    # --- control -------------------------------------------------------------------------

    def fail_next(
        self,
        status: int,
        *,
        retry_after: float | None = None,
        code: str = "",
        times: int = 1,
        kinds: tuple[str, ...] = ("post", "reply", "update", "create"),
    ) -> None:
        """Answer the next `times` matching calls with `status` (and Retry-After / error code)."""
        # Retry-After is delay-seconds: a whole number (RFC 9110), rounded up.
        headers = {"Retry-After": str(math.ceil(retry_after))} if retry_after is not None else {}
        code = code or CODES.get(status, f"Http{status}")
        body = {"error": {"code": code, "message": f"injected {status}"}}
        for _ in range(times):
            self._failures.append(_Failure(status, headers, body, frozenset(kinds)))

    def of_kind(self, *kinds: str) -> list[ConnectorCall]:
        """The recorded calls of the given kinds, in order."""
        return [c for c in self.calls if c.kind in kinds]

    def activities(self, *kinds: str) -> list[dict[str, Any]]:
        """Bodies of recorded activity calls (default: replies, posts and updates)."""
        wanted = kinds or ("reply", "post", "update")
        return [c.body for c in self.calls if c.kind in wanted]

    async def wait_for(
        self, count: int, *kinds: str, timeout: float = 30.0
    ) -> list[ConnectorCall]:
        """Wait until at least `count` calls of `kinds` have arrived."""

        def enough() -> bool:
            return len(self.of_kind(*kinds) if kinds else self.calls) >= count

        async with self._arrived:
            await asyncio.wait_for(self._arrived.wait_for(enough), timeout)
        return self.of_kind(*kinds) if kinds else list(self.calls)

    # --- server --------------------------------------------------------------------------

    async def start(self) -> str:
        """Listen on an ephemeral loopback port; the service URL."""
        app = web.Application(client_max_size=4 * 1024 * 1024)
        app.router.add_post("/v3/conversations", self._create)
        app.router.add_post("/v3/conversations/{cid}/activities", self._activity)
        app.router.add_post("/v3/conversations/{cid}/activities/{aid}", self._activity)
        app.router.add_put("/v3/conversations/{cid}/activities/{aid}", self._activity)
        for paged in ("pagedmembers", "pagedMembers"):  # the SDK's Teams client writes it so
            app.router.add_get(f"/v3/conversations/{{cid}}/{paged}", self._paged_members)
        app.router.add_get("/v3/conversations/{cid}/members", self._members)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, 0)
        await site.start()
        server = site._server
        assert server is not None
        port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        self.url = f"http://{self.host}:{port}/"
        return self.url

    async def stop(self) -> None:
        """Stop listening."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _record(self, request: web.Request) -> tuple[ConnectorCall, web.Response | None]:
        body: Any = None
        if request.can_read_body:
            try:
                body = await request.json()
            except ValueError:
                body = await request.text()
        call = ConnectorCall(
            method=request.method,
            path=request.path,
            conversation_id=request.match_info.get("cid", ""),
            activity_id=request.match_info.get("aid"),
            body=body,
            headers={k.lower(): v for k, v in request.headers.items()},
            query=dict(request.query),
        )
        failure = next((f for f in self._failures if call.kind in f.kinds), None)
        too_big = call.kind in ("post", "reply", "update") and (
            len(await request.read()) > MAX_ACTIVITY_BYTES
        )
        if too_big:
            message = {"error": {"code": CODES[413], "message": "Message size too big"}}
            failure = _Failure(413, {}, message, frozenset())
        elif failure is not None:
            self._failures.remove(failure)
        if failure is not None:
            call.body = {"refused": failure.status, "sent": body}
            refusal = web.json_response(
                failure.body, status=failure.status, headers=failure.headers
            )
        else:
            refusal = None
        self.calls.append(call)
        if self.on_call is not None and refusal is None:
            self.on_call(call)
        async with self._arrived:
            self._arrived.notify_all()
        return call, refusal

    async def _activity(self, request: web.Request) -> web.Response:
        call, refusal = await self._record(request)
        if refusal is not None:
            return refusal
        if call.kind == "update":
            return web.json_response({"id": call.activity_id})
        return web.json_response({"id": str(next(self._ids))}, status=201)

    async def _create(self, request: web.Request) -> web.Response:
        call, refusal = await self._record(request)
        if refusal is not None:
            return refusal
        members = (call.body or {}).get("members") or [{}]
        return web.json_response(
            {"id": f"a:personal-{members[0].get('id', 'x')}", "serviceUrl": self.url}, status=201
        )

    async def _paged_members(self, request: web.Request) -> web.Response:
        call, refusal = await self._record(request)
        if refusal is not None:
            return refusal
        everyone = self.members.get(call.conversation_id, [])
        size = min(int(request.query.get("pageSize") or self.page_size), self.page_size)
        start = int(request.query.get("continuationToken") or 0)
        page = everyone[start : start + size]
        body: dict[str, Any] = {"members": page}
        if start + size < len(everyone):
            body["continuationToken"] = str(start + size)
        return web.json_response(body)

    async def _members(self, request: web.Request) -> web.Response:
        call, refusal = await self._record(request)
        if refusal is not None:
            return refusal
        return web.json_response(self.members.get(call.conversation_id, []))
