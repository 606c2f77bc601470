"""The web desk over real HTTP on loopback: signing in through chat, sessions, CSRF, roles,
and desk actions reaching the requester exactly as chat's do."""

from __future__ import annotations

import re

from sqlmodel import select

from bot.clock import FakeClock
from bot.store.models import AuditEntry, Enquiry
from tests.desk_rig import ENQUIRY as ENQUIRY_LINES
from tests.desk_rig import ask, client, hidden, link_for, serving, sign_in

PAGES = [
    "/desk/",
    "/desk/queue",
    "/desk/mine",
    "/desk/stats",
    "/desk/stats.csv",
    "/desk/projects",
    "/desk/lessons",
    "/desk/knowvember",
    "/desk/tools",
    "/desk/tools/after-action-review",
    "/desk/enquiries/ENQ-2026-0001",
    "/desk/sign-out",
]


async def test_no_page_without_a_session(engine, chat) -> None:
    await ask(chat("ann"))
    async with serving(engine) as base, client() as http:
        for path in PAGES:
            async with http.get(base + path, allow_redirects=False) as r:
                body = await r.text()
                assert r.status == 401, path
                assert "Sign in through chat" in body and "ENQ-2026" not in body, path
        async with http.post(
            f"{base}/desk/enquiries/ENQ-2026-0001/claim", data={"csrf": "x"}
        ) as r:
            assert r.status == 401
    with engine.store.session() as s:
        assert s.get(Enquiry, 1).status == "new"


async def test_a_link_signs_its_person_in_once(engine, chat) -> None:
    lib = chat("lib", role="librarian")
    async with serving(engine) as base, client() as http:
        link = await link_for(lib, base)
        r = await sign_in(http, link)
        assert r.status == 303 and r.headers["Location"] == "/desk/"
        cookie = r.headers["Set-Cookie"]
        assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
        async with http.get(f"{base}/desk/") as page:
            assert page.status == 200 and "Hello, Lib" in await page.text()
            assert "script-src 'self'" in page.headers["Content-Security-Policy"]
            assert "unsafe-inline" not in page.headers["Content-Security-Policy"]
        async with client() as other:
            again = await sign_in(other, link)
            assert again.status == 403  # used already
            async with other.get(f"{base}/desk/") as page:
                assert page.status == 401


async def test_expired_and_unknown_links_are_refused(engine, chat, clock: FakeClock) -> None:
    lib = chat("lib", role="librarian")
    async with serving(engine) as base, client() as http:
        link = await link_for(lib, base)
        clock.advance(minutes=10, seconds=1)
        assert (await sign_in(http, link)).status == 403
        forged = re.sub(r"token=[\w-]+", "token=" + "A" * 43, link)
        assert (await sign_in(http, forged)).status == 403
        async with http.get(f"{base}/desk/") as page:
            assert page.status == 401


async def test_someone_elses_link_is_refused_where_you_are_signed_in(engine, chat) -> None:
    ann, bob = chat("ann"), chat("bob")
    async with serving(engine) as base, client() as http:
        assert (await sign_in(http, await link_for(bob, base))).status == 303
        anns = await link_for(ann, base)
        assert (await sign_in(http, anns)).status == 403
        async with http.get(f"{base}/desk/") as page:
            assert "Hello, Bob" in await page.text()
        async with client() as fresh:  # and it is spent: no one else can use it either
            assert (await sign_in(fresh, anns)).status == 403


async def test_links_are_only_sent_one_to_one_and_only_hashes_are_kept(engine, chat) -> None:
    from bot.messages import ConversationRef
    from bot.store.models import DeskLink, DeskSession

    ann = chat("ann")
    ann.conversation = ConversationRef("console", "general", "channel")
    assert "direct message" in await ann.says("desk")
    ann.conversation = None
    async with serving(engine) as base, client() as http:
        link = await link_for(ann, base)
        await sign_in(http, link)
        token = link.split("token=")[1]
        cookie = next(c.value for c in http.cookie_jar if c.key == "kmb_desk")
    with engine.store.session() as s:
        stored = [x.token_hash for x in s.exec(select(DeskLink))]
        stored += [x.token_hash for x in s.exec(select(DeskSession))]
    assert stored and token not in stored and cookie not in stored


async def test_sessions_end_when_idle_and_everywhere_from_chat(
    engine, chat, clock: FakeClock
) -> None:
    lib = chat("lib", role="librarian")
    async with serving(engine) as base, client() as a, client() as b:
        await sign_in(a, await link_for(lib, base))
        await sign_in(b, await link_for(lib, base))
        clock.advance(minutes=29)
        async with a.get(f"{base}/desk/queue") as r:
            assert r.status == 200  # still active: a keeps it alive
        clock.advance(minutes=2)
        async with b.get(f"{base}/desk/queue") as r:
            assert r.status == 401  # b was idle for 31 minutes
        assert "1 session ended" in await lib.says("desk sign out everywhere")
        async with a.get(f"{base}/desk/queue") as r:
            assert r.status == 401


async def test_sign_in_attempts_are_rate_limited(engine, chat) -> None:
    async with serving(engine) as base, client() as http:
        async with http.get(f"{base}/desk/sign-in?token=x") as r:
            fields = hidden(await r.text())
        statuses = []
        for _ in range(11):
            async with http.post(f"{base}/desk/sign-in", data=fields) as r:
                statuses.append(r.status)
        assert statuses[:10] == [403] * 10 and statuses[10] == 429


async def test_a_post_without_its_csrf_token_is_refused(engine, chat) -> None:
    await ask(chat("ann"))
    lib = chat("lib", role="librarian")
    async with serving(engine) as base, client() as http:
        await sign_in(http, await link_for(lib, base))
        url = f"{base}/desk/enquiries/ENQ-2026-0001/claim"
        async with http.post(url, data={}) as r:
            assert r.status == 403
        async with http.post(url, data={"csrf": "not-the-token"}) as r:
            assert r.status == 403
        with engine.store.session() as s:
            assert s.get(Enquiry, 1).status == "new"
        async with http.get(f"{base}/desk/enquiries/ENQ-2026-0001") as r:
            csrf = hidden(await r.text())["csrf"]
        async with http.post(url, data={"csrf": csrf}, allow_redirects=False) as r:
            assert r.status == 303
    with engine.store.session() as s:
        assert s.get(Enquiry, 1).status == "claimed"


async def test_a_member_sees_only_their_own(engine, chat) -> None:
    ann, bob = chat("ann"), chat("bob")
    await ask(ann)
    async with serving(engine) as base, client() as http:
        await sign_in(http, await link_for(bob, base))
        for path in ("/desk/queue", "/desk/stats", "/desk/stats.csv", "/desk/knowvember"):
            async with http.get(base + path) as r:
                assert r.status == 403, path
                assert "ENQ-2026-0001" not in await r.text()
        async with http.get(f"{base}/desk/enquiries/ENQ-2026-0001") as r:
            assert r.status == 404 and "hip fracture" not in await r.text()
        async with http.get(f"{base}/desk/mine") as r:
            assert "ENQ-2026-0001" not in await r.text()
        async with http.get(f"{base}/desk/sign-out") as r:
            csrf = hidden(await r.text())["csrf"]
        async with http.post(
            f"{base}/desk/enquiries/ENQ-2026-0001/claim", data={"csrf": csrf}
        ) as r:
            assert r.status == 403
    async with serving(engine) as base, client() as http:
        await sign_in(http, await link_for(ann, base))
        async with http.get(f"{base}/desk/enquiries/ENQ-2026-0001") as r:
            page = await r.text()
            assert r.status == 200 and "hip fracture" in page and "Claim" not in page
        async with http.get(f"{base}/desk/mine") as r:
            assert "ENQ-2026-0001" in await r.text()


async def test_desk_actions_reach_the_requester_as_chat_does(engine, chat) -> None:
    ann = chat("ann")
    await ask(ann)
    lib = chat("lib", role="librarian")
    async with serving(engine) as base, client() as http:
        await sign_in(http, await link_for(lib, base))
        page = f"{base}/desk/enquiries/ENQ-2026-0001"
        async with http.get(page) as r:
            csrf = hidden(await r.text())["csrf"]

        async def post(action: str, **fields: str) -> str:
            async with http.post(f"{page}/{action}", data={"csrf": csrf, **fields}) as r:
                return await r.text()

        assert "You have ENQ-2026-0001" in await post("claim")
        assert "Sent on ENQ-2026-0001" in await post("reply", message="UK studies only?")
        await post("note", note="try CINAHL too")
        refused = await post("close", outcome="", minutes="lots")
        assert "There is a problem" in refused and "whole number" in refused
        assert "Enter what was done or sent" in refused and "cancel" not in refused
        assert "closed. The requester has been told" in await post(
            "close", outcome="Evidence summary sent", minutes="90", read="3"
        )
    news = ann.opens()
    assert "picked up your enquiry ENQ-2026-0001" in news
    assert "UK studies only?" in news and "CINAHL" not in news
    assert "complete: Evidence summary sent" in news
    history = await lib.says("enquiry ENQ-2026-0001")
    assert "try CINAHL too" in history and "Closed: Evidence summary sent" in history
    with engine.store.session() as s:
        e = s.get(Enquiry, 1)
        assert (e.minutes_spent, e.read_level) == (90, 3)
        actions = [a.action for a in s.exec(select(AuditEntry))]
    for action in ("desk.sign_in", "desk.enquiry.claim", "desk.enquiry.close", "desk.link"):
        assert action in actions


async def test_queue_filters_sorts_and_pages(engine, chat) -> None:
    ann = chat("ann")
    for n in range(30):
        lines = list(ENQUIRY_LINES)
        lines[0] = f"librarian Question number {n:02d} about falls prevention?"
        lines[4] = "yes" if n % 10 == 0 else "no"
        await ask(ann, lines)
    lib = chat("lib", role="librarian")
    await lib.says("claim ENQ-2026-0002")
    async with serving(engine) as base, client() as http:
        await sign_in(http, await link_for(lib, base))
        async with http.get(f"{base}/desk/queue") as r:
            page = await r.text()
            assert "30 enquiries" in page and "page 1 of 2" in page
            first = re.findall(r">(ENQ-2026-\d{4})</a>", page)
            assert first[:3] == ["ENQ-2026-0001", "ENQ-2026-0011", "ENQ-2026-0021"]  # priority
        async with http.get(f"{base}/desk/queue?priority=yes") as r:
            assert "3 enquiries" in await r.text()
        async with http.get(f"{base}/desk/queue?mine=yes") as r:
            assert re.findall(r">(ENQ-2026-\d{4})</a>", await r.text()) == ["ENQ-2026-0002"]
        async with http.get(f"{base}/desk/queue?status=new&sort=newest&page=2") as r:
            rows = re.findall(r">(ENQ-2026-\d{4})</a>", await r.text())
            assert rows == ["ENQ-2026-0005", "ENQ-2026-0004", "ENQ-2026-0003", "ENQ-2026-0001"]
        async with http.get(f"{base}/desk/queue?status=bogus&page=x&sort=;drop") as r:
            assert r.status == 200


async def test_stats_page_and_csv_for_a_period(engine, chat, clock: FakeClock) -> None:
    ann = chat("ann")
    await ask(ann)
    lib = chat("lib", role="librarian")
    clock.advance(hours=2)
    await lib.says("claim ENQ-2026-0001")
    await lib.says("close ENQ-2026-0001 Sent")
    async with serving(engine) as base, client() as http:
        await sign_in(http, await link_for(lib, base))
        async with http.get(f"{base}/desk/stats?from=2026-10-01&to=2026-12-31") as r:
            page = await r.text()
            assert r.status == 200
            assert "01 Oct 2026 to 31 Dec 2026" in page
            assert "2.0 hours" in page  # median time to claim
            assert "1 (0 for patient care)" in page
            assert page.count('<svg role="img"') == 5 and "Audit or quality improvement" in page
        await ask(ann)  # a change: the figures are counted again, not the ones seen before
        async with http.get(f"{base}/desk/stats?from=2026-10-01&to=2026-12-31") as r:
            assert "2 (0 for patient care)" in await r.text()
        async with http.get(f"{base}/desk/stats.csv?from=2026-10-01&to=2026-12-31") as r:
            assert r.headers["Content-Type"].startswith("text/csv")
            lines = (await r.text()).splitlines()
            assert lines[0].startswith("reference,created") and "ENQ-2026-0001" in lines[1]
            assert len(lines) == 3
            assert "Ann" not in "\n".join(lines)


async def test_secure_cookie_when_the_public_address_is_https(engine, chat) -> None:
    engine.settings.kmb_public_url = "https://kmb.example.nhs.uk"
    lib = chat("lib", role="librarian")
    said = await lib.says("desk")
    assert "https://kmb.example.nhs.uk/desk/sign-in?token=" in said
    async with serving(engine) as base, client() as http:
        link = base + said.split("https://kmb.example.nhs.uk")[1].split()[0]
        async with http.get(link) as r:
            assert "Secure" in r.headers["Set-Cookie"]
            fields = hidden(await r.text())
        # A browser sends Secure cookies only over https; this test speaks http, so by hand.
        headers = {"Cookie": f"kmb_desk_signin={fields['pre']}"}
        async with http.post(
            f"{base}/desk/sign-in", data=fields, headers=headers, allow_redirects=False
        ) as r:
            assert r.status == 303
            assert "Secure" in r.headers["Set-Cookie"] and "HttpOnly" in r.headers["Set-Cookie"]


async def test_transfer_from_the_desk_moves_it_and_the_frontend_is_served_locally(
    engine, chat
) -> None:
    await ask(chat("ann"))
    lib = chat("lib", role="librarian")
    async with serving(engine) as base, client() as http:
        await sign_in(http, await link_for(lib, base))
        page = f"{base}/desk/enquiries/ENQ-2026-0001"
        async with http.get(page) as r:
            csrf = hidden(await r.text())["csrf"]
        async with http.post(f"{page}/transfer", data={"csrf": csrf}) as r:
            assert "Choose a team or name a librarian" in await r.text()
        data = {"csrf": csrf, "team": "clinical-librarians"}
        async with http.post(f"{page}/transfer", data=data) as r:
            assert "now with the Clinical librarians" in await r.text()
        async with http.get(f"{base}/desk/queue?team=clinical-librarians") as r:
            assert "ENQ-2026-0001" in await r.text()
        for path in (
            "/desk/static/nhsuk/nhsuk-frontend.min.css",
            "/desk/static/nhsuk/nhsuk-frontend.min.js",
            "/desk/static/desk.js",
            "/assets/images/nhsuk-icon-arrow-right.svg",
        ):
            async with http.get(base + path) as r:
                assert r.status == 200 and len(await r.read()) > 100, path
    with engine.store.session() as s:
        assert s.get(Enquiry, 1).team == "clinical-librarians"


async def test_the_csv_quotes_free_text_that_a_spreadsheet_would_run(engine, chat) -> None:
    ann = chat("ann")
    await ask(ann, [*ENQUIRY_LINES[:-1], '=HYPERLINK("http://evil.example","x")'])
    lib = chat("lib", role="librarian")
    async with serving(engine) as base, client() as http:
        await sign_in(http, await link_for(lib, base))
        async with http.get(f"{base}/desk/stats.csv?period=this+year") as r:
            text = await r.text()
    assert "'=HYPERLINK" in text and ",=HYPERLINK" not in text


async def test_ended_sessions_and_spent_links_are_forgotten(
    engine, chat, clock: FakeClock
) -> None:
    from bot.desk.auth import sweep
    from bot.store.models import DeskLink, DeskSession

    lib = chat("lib", role="librarian")
    async with serving(engine) as base, client() as http:
        await sign_in(http, await link_for(lib, base))
        await link_for(lib, base)  # never used
        assert sweep(engine) == 1  # the used link; the live session and unused link stay
        clock.advance(minutes=31)
        assert sweep(engine) == 2
    with engine.store.session() as s:
        assert s.exec(select(DeskSession)).all() == [] and s.exec(select(DeskLink)).all() == []
    assert "desk-sessions" in {p.name for p in engine.periodic}


def test_links_to_an_unroutable_listening_address_are_warned_about(engine, caplog) -> None:
    from bot.desk.auth import listening, public_url

    listening(engine, "http://0.0.0.0:3978")
    assert "set KMB_PUBLIC_URL" in caplog.text
    engine.settings.kmb_public_url = "https://kmb.example.nhs.uk/"
    assert public_url(engine) == "https://kmb.example.nhs.uk"


async def test_the_card_in_the_library_channel_changes_as_when_claimed_in_chat(
    engine, chat
) -> None:
    from bot.store.models import OutboxMessage

    with engine.store.session() as s:
        channel = {"platform": "slack", "id": "C0LIB", "kind": "channel", "thread": None}
        engine.store.set_setting(s, "librarian-channel", channel)
    await ask(chat("ann"))
    with engine.store.session() as s:  # Slack took the card (no Slack sender runs here)
        card = s.exec(select(OutboxMessage).where(OutboxMessage.platform == "slack")).one()
        card.status, card.message_id = "sent", "1700000000.000100"
    lib = chat("lib", role="librarian")
    async with serving(engine) as base, client() as http:
        await sign_in(http, await link_for(lib, base))
        page = f"{base}/desk/enquiries/ENQ-2026-0001"
        async with http.get(page) as r:
            csrf = hidden(await r.text())["csrf"]
        async with http.post(f"{page}/claim", data={"csrf": csrf}) as r:
            assert r.status == 200
    with engine.store.session() as s:
        rows = s.exec(select(OutboxMessage).where(OutboxMessage.platform == "slack")).all()
    posted = [r for r in rows if r.kind == "post"]
    updated = [r for r in rows if r.kind == "update"]
    assert len(posted) == 1 and posted[0].conversation["id"] == "C0LIB"  # the card
    assert [u.dedupe_key for u in updated] == ["enquiry:1:card:claimed:2:1:2"]
    assert updated[0].target_id == "1700000000.000100"
    assert "Lib" in str(updated[0].payload)  # the card now names who has it
