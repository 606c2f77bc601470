"""Hand-off to LibAnswers, against a local fake of its API 1.1 on loopback: a new enquiry
becomes a ticket, an expired token is fetched again once, and a 429 waits as it is told."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import pytest
from aiohttp import web
from sqlmodel import select

from bot.clock import FakeClock
from bot.config import Settings
from bot.engine import Engine
from bot.features import register_all
from bot.handoff import service
from bot.handoff.incoming import accept
from bot.handoff.mail import parse
from bot.outbox import Courier
from bot.store import Store
from bot.store.models import OutboxMessage
from bot.testing import Chatter
from tests.test_handoff_email import ENQUIRY


@dataclass
class FakeLibAnswers:
    """The LibAnswers endpoints kmb uses, with switches for what can go wrong."""

    url: str = ""
    valid_tokens: set[str] = field(default_factory=set)
    issued: int = 0
    tickets: list[dict[str, str]] = field(default_factory=list)
    throttle_next: int = 0  # answer this many ticket requests with 429
    calls: list[str] = field(default_factory=list)

    async def token(self, request: web.Request) -> web.Response:
        form = await request.post()
        self.calls.append("token")
        if (form.get("client_id"), form.get("client_secret")) != ("kmb-client", "s3cret"):
            return web.json_response({"error": "invalid_client"}, status=401)
        if form.get("grant_type") != "client_credentials":
            return web.json_response({"error": "unsupported_grant_type"}, status=400)
        self.issued += 1
        token = f"token-{self.issued}"
        self.valid_tokens.add(token)
        return web.json_response({"access_token": token, "expires_in": 3600})

    async def create(self, request: web.Request) -> web.Response:
        self.calls.append("create")
        bearer = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if bearer not in self.valid_tokens:
            return web.json_response({"error": "expired token"}, status=401)
        if self.throttle_next:
            self.throttle_next -= 1
            return web.json_response(
                {"error": "too many requests"}, status=429, headers={"Retry-After": "30"}
            )
        form = dict(await request.post())
        self.tickets.append({k: str(v) for k, v in form.items()})
        n = 1000 + len(self.tickets)
        return web.json_response({"ticketId": n, "ticketUrl": f"{self.url}/admin/ticket?qid={n}"})


@pytest.fixture
async def libanswers() -> AsyncIterator[FakeLibAnswers]:
    fake = FakeLibAnswers()
    app = web.Application()
    app.router.add_post("/api/1.1/oauth/token", fake.token)
    app.router.add_post("/api/1.1/ticket/create", fake.create)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    fake.url = f"http://127.0.0.1:{port}"
    yield fake
    await runner.cleanup()


@pytest.fixture
def la_engine(sqlite_url: str, clock: FakeClock, catalogue: Any) -> Engine:
    settings = Settings(
        database_url=sqlite_url,
        kmb_libanswers_client_id="kmb-client",
        kmb_libanswers_client_secret="s3cret",
        kmb_mail_from="kmb@trust.nhs.uk",
    )
    store = Store(sqlite_url, clock)
    store.upgrade()
    engine = Engine(store, catalogue, clock, settings)
    register_all(engine)
    return engine


async def _ask(engine: Engine, fake: FakeLibAnswers, n: int) -> Chatter:
    admin = Chatter(engine, "ada").grant("admin")
    said = await admin.says(f"admin handoff clinical-librarians libanswers {fake.url} 4242")
    assert f"LibAnswers queue 4242 at {fake.url}" in said
    ann = Chatter(engine, "ann")
    await ann.says("librarian")
    assert f"ENQ-2026-000{n}" in await ann.submits("enquiry", ENQUIRY)
    return ann


async def test_an_enquiry_becomes_a_ticket_and_an_expired_token_is_renewed_once(
    la_engine: Engine, libanswers: FakeLibAnswers
) -> None:
    ann = await _ask(la_engine, libanswers, 1)
    delivery = Courier(la_engine.store, service.senders(la_engine))
    assert await delivery.run_once() == 1
    [ticket] = libanswers.tickets
    assert ticket["quid"] == "4242"
    assert ticket["pquestion"].startswith("[ENQ-2026-0001] Does early mobilisation")
    assert ticket["pemail"] == "kmb+ENQ-2026-0001@trust.nhs.uk"  # replies come back by mail
    assert ticket["pname"] == "Ann"
    assert "PRIORITY" in ticket["pdetails"] and "Physiotherapist" in ticket["pdetails"]
    lib = Chatter(la_engine, "lib").grant("librarian")
    view = await lib.says("enquiry ENQ-2026-0001")
    assert f"LibAnswers ticket: {libanswers.url}/admin/ticket?qid=1001" in view

    # LibAnswers answers the patron, i.e. kmb's routed address: it comes back into chat.
    answer = EmailMessage()
    answer["From"] = "Library <library@trust.libanswers.com>"
    answer["To"] = ticket["pemail"]
    answer["Subject"] = "Re: your question [Ticket #1001]"
    answer["Message-ID"] = "<la-1001-1@trust.libanswers.com>"
    answer.set_content("We have started your search.\n\n-- \nLibrary and knowledge service")
    with la_engine.store.session() as s:
        accept(la_engine, s, parse(bytes(answer), "<unused@x>"))
    relayed = ann.opens()
    assert "The library team on ENQ-2026-0001 (Library): We have started your search." in relayed
    assert "knowledge service" not in relayed

    libanswers.valid_tokens.clear()  # the token expires
    await _ask(la_engine, libanswers, 2)
    assert await delivery.run_once() == 1
    assert len(libanswers.tickets) == 2
    assert libanswers.calls == ["token", "create", "create", "token", "create"]


async def test_a_429_waits_for_retry_after_through_the_outbox(
    la_engine: Engine, libanswers: FakeLibAnswers, clock: FakeClock
) -> None:
    await _ask(la_engine, libanswers, 1)
    libanswers.throttle_next = 1
    delivery = Courier(la_engine.store, service.senders(la_engine))
    await delivery.run_once()
    assert libanswers.tickets == []
    with la_engine.store.session() as s:
        row = s.exec(select(OutboxMessage).where(OutboxMessage.platform == "libanswers")).one()
    assert row.status == "pending" and "slow down" in row.last_error
    assert (row.due_at - clock.now()).total_seconds() == pytest.approx(30)
    clock.advance(seconds=29)
    assert await delivery.run_once() == 0  # not before Retry-After
    clock.advance(seconds=2)
    assert await delivery.run_once() == 1
    assert len(libanswers.tickets) == 1


async def test_wrong_credentials_park_the_ticket_with_a_clear_reason(
    la_engine: Engine, libanswers: FakeLibAnswers
) -> None:
    la_engine.settings.kmb_libanswers_client_secret = "wrong"
    await _ask(la_engine, libanswers, 1)
    await Courier(la_engine.store, service.senders(la_engine)).run_once()
    report = await Chatter(la_engine, "ada").says("admin outbox")
    assert "libanswers: 1 parked" in report
    assert f"Queue 4242 at {libanswers.url} (libanswers): 1 parked" in report
    assert "refused kmb's client id and secret (401" in report
    assert "KMB_LIBANSWERS_CLIENT_SECRET" in report
    view = await Chatter(la_engine, "lib").grant("librarian").says("enquiry ENQ-2026-0001")
    assert "LibAnswers ticket: not created — LibAnswers refused kmb's client id" in view


async def test_admin_is_told_what_is_missing_for_a_hand_off(engine: Engine) -> None:
    ada = Chatter(engine, "ada").grant("admin")
    said = await ada.says("admin handoff library email library@trust.nhs.uk")
    assert "KMB_SMTP_URL is not set yet" in said
    assert "replies can't come back into chat yet" in said
    assert "can't be used" in await ada.says("admin handoff library email nobody")
    assert "Usage" in await ada.says("admin handoff library libanswers https://x.example")
    listed = await ada.says("admin handoff")
    assert "• library: email to library@trust.nhs.uk" in listed
    assert "• clinical-librarians: its channel only" in listed
    assert "its channel only" in await ada.says("admin handoff library off")
    assert "• library: its channel only" in await ada.says("admin handoff")
