"""Retention over a year or more of seeded use, with a fake clock: what the next run would do is
what it does, each kind at its own age, and the policy is validated wherever it is set."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlmodel import func, select

from bot.clock import FakeClock
from bot.config import Settings
from bot.content import ContentError, load_catalogue
from bot.engine import Engine
from bot.retention import REMOVED, RetentionError, plan, policy, report, run_retention
from bot.scheduling.planner import close_occasion
from bot.store.models import (
    Absence,
    Answer,
    AuditEntry,
    CampaignAnswer,
    Dialog,
    Enquiry,
    EnquiryMessage,
    InboxItem,
    Lesson,
    Occasion,
    OutboxMessage,
    ProcessedEvent,
    Prompt,
)
from bot.testing import Chatter
from tests.test_enquiries import _ask
from tests.test_retros import ANSWERS, PROJECT


def count(engine: Engine, model: type) -> int:
    with engine.store.session() as s:
        return int(s.exec(select(func.count()).select_from(model)).one())


async def seed(engine: Engine, clock: FakeClock) -> None:
    """A closed enquiry, an open one, a closed retro round with shared answers, a campaign
    answer, an absence, a draft, delivered messages and handled events."""
    lead = Chatter(engine, "lea").grant("lead")
    for line in PROJECT:
        await lead.says(line)
    await lead.says("retro now 1")
    bea = Chatter(engine, "bea")
    await bea.says("retro")
    for line in [*ANSWERS, "no", "yes"]:
        await bea.says(line)
    ann, cal = Chatter(engine, "ann"), Chatter(engine, "cal")
    await _ask(ann)
    await _ask(cal)
    lib = Chatter(engine, "lib").grant("librarian")
    await lib.says("claim ENQ-2026-0001")
    await lib.says("note ENQ-2026-0001 try CINAHL")
    await lib.says("close ENQ-2026-0001 Summary sent")
    await ann.says("ooo 2026-12-21 to 2027-01-02")
    await cal.says("librarian")  # left unfinished: a draft
    await Chatter(engine, "dev").says("help", event_id="Ev1")
    ann.opens()  # the console delivers what was queued for Ann
    clock.advance(days=10)
    with engine.store.session() as s:
        occasion = s.exec(select(Occasion.id).where(Occasion.status == "open")).first()
    assert occasion is not None and close_occasion(engine, occasion)


async def test_each_kind_goes_at_its_own_age(
    make_engine: Callable[[str], Engine], database_url: str, clock: FakeClock
) -> None:
    engine = make_engine(database_url)
    await seed(engine, clock)
    assert (
        count(engine, Dialog) == 1
        and count(engine, ProcessedEvent) + count(engine, InboxItem) == 1
    )
    # ten days on, only the event ids (kept a week) are old enough
    assert {k: n for k, n in plan(engine).items() if n} == {"processed_events": 1}

    clock.advance(days=31)
    due = plan(engine)
    assert due["processed_events"] == 1 and due["dialogs"] == 1
    assert due["sent_outbox"] > 0 and due["closed_enquiries"] == 0
    sent = count(engine, OutboxMessage)
    assert run_retention(engine) == due
    with engine.store.session() as s:
        run = s.exec(select(AuditEntry).where(AuditEntry.action == "retention.run")).one()
    assert run.detail == {k: n for k, n in due.items() if n}  # the run is audited
    assert f"Last run that removed anything: {clock.now():%Y-%m-%d %H:%M} UTC (" in "\n".join(
        report(engine)
    )
    assert (
        count(engine, Dialog) == 0
        and count(engine, ProcessedEvent) + count(engine, InboxItem) == 0
    )
    # sent rows went, except the card of the enquiry still open (its thread still works)
    with engine.store.session() as s:
        left = s.exec(select(OutboxMessage)).all()
    assert len(left) < sent and all(
        r.subject == "enquiry:2" or r.status == "pending" for r in left
    )
    assert set(plan(engine).values()) == {0}  # a second run the same day has nothing to do

    clock.advance(days=731)  # over two years since the enquiry closed
    due = plan(engine)
    assert (due["closed_enquiries"], due["absences"], due["retro_answers"]) == (1, 1, 0)
    run_retention(engine)
    with engine.store.session() as s:
        closed = s.exec(select(Enquiry).where(Enquiry.status == "closed")).one()
        still_open = s.exec(select(Enquiry).where(Enquiry.status != "closed")).one()
        history = s.exec(select(EnquiryMessage).where(EnquiryMessage.enquiry_id == closed.id))
        assert list(history) == []
    # anonymised: statistics keep their facts; the question and the people are gone
    assert closed.question == REMOVED and closed.requester_id is None
    assert closed.assignee_id is None and closed.outcome == "" and closed.organisation == ""
    assert closed.purpose == "audit-qi" and closed.reference == "ENQ-2026-0001"
    assert still_open.question.startswith("Does early mobilisation")  # open: untouched
    assert count(engine, Absence) == 0

    clock.advance(days=365)  # three years since the round closed
    assert plan(engine)["retro_answers"] == 6 + 4  # Bea's answers; the four people asked
    run_retention(engine)
    assert count(engine, Answer) == 0 and count(engine, Prompt) == 0
    assert count(engine, Lesson) == 5  # the shared lessons keep their own copy…
    clock.advance(days=3 * 365)
    assert plan(engine)["lessons"] == 5
    run_retention(engine)
    with engine.store.session() as s:
        lessons = s.exec(select(Lesson)).all()
    assert all(x.author_id is None for x in lessons) and len(lessons) == 5  # …then unlinked
    assert "lessons" in report(engine)[3] and "0 anonymised" in report(engine)[3]
    # six years on, audit entries older than the policy went too (the retention runs' own)
    with engine.store.session() as s:
        kept = s.exec(select(AuditEntry)).all()
    assert kept and min(e.at for e in kept) >= clock.now() - dt.timedelta(days=2190)


async def test_campaign_answers_go_after_a_year(engine: Engine, clock: FakeClock) -> None:
    admin = Chatter(engine, "ada").grant("admin")
    from bot.messages import ConversationRef

    admin.conversation = ConversationRef("console", "team", "channel")
    await admin.says("admin campaign knowvember on")
    await Chatter(engine, "bea").says("knowvember Ask the night team first")
    assert count(engine, CampaignAnswer) == 1
    clock.advance(days=364)
    assert plan(engine)["campaign_answers"] == 0
    clock.advance(days=2)
    assert run_retention(engine)["campaign_answers"] == 1 and count(engine, CampaignAnswer) == 0


def test_the_policy_comes_from_content_and_the_environment(engine: Engine, tmp_path: Path) -> None:
    assert policy(engine).closed_enquiries == 730  # content/retention.yaml
    engine.settings = Settings(kmb_retention="closed_enquiries=1095, audit=null")
    chosen = policy(engine)
    assert chosen.closed_enquiries == 1095 and chosen.audit is None
    assert any("audit\tfor ever\t-" in line for line in report(engine))
    for bad in ("closed_enquiry=3", "audit=soon", "audit=0"):
        engine.settings = Settings(kmb_retention=bad)
        with pytest.raises(RetentionError):
            policy(engine)
    folder = tmp_path / "content"
    shutil.copytree(Path(__file__).resolve().parent.parent / "content", folder)
    (folder / "retention.yaml").write_text("audit: -3\ndialog: 10\n")
    with pytest.raises(ContentError) as exc:
        load_catalogue(folder)
    assert (
        "retention.yaml: audit: Input should be greater than or equal to 1" in exc.value.problems
    )
    assert "retention.yaml: dialog: Extra inputs are not permitted" in exc.value.problems


def test_retention_is_a_daily_chore(engine: Engine) -> None:
    chore = next(c for c in engine.periodic if c.name == "retention")
    assert chore.every_s == 24 * 3600 and chore.run is run_retention


def test_kmb_retention_shows_the_policy_and_the_next_run(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from kmb.cli import main

    monkeypatch.setenv("DATABASE_URL", engine.store.url)
    assert main(["retention"]) == 0
    out = capsys.readouterr().out
    assert "closed_enquiries\t730 days after closed\tanonymised\t0 anonymised" in out
    assert "Review the periods locally" in out
    monkeypatch.setenv("KMB_RETENTION", "audit=never")
    assert main(["retention", "--run"]) == 0
    assert "audit" not in capsys.readouterr().out
