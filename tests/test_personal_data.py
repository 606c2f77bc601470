"""Erasure and subject-access export, driven by a walk of the schema.

Every table in the models must have a rule in `bot.store.personal`; every column that can refer
to a person must be accounted for by it. The behaviour tests then look at *every* table: after
`delete my data` no row refers to the person or holds their words (on SQLite the database files
themselves, `-wal` included, no longer contain them), and `my data` contains every row that
refers to them — so a table added later is covered, or the build fails.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import JSON
from sqlmodel import SQLModel, col, select

from bot.engine import Engine
from bot.messages import ConversationRef
from bot.scheduling.planner import close_occasion
from bot.store.models import (
    AuditEntry,
    Dialog,
    Enquiry,
    EnquiryMessage,
    Occasion,
    OutboxMessage,
    Person,
)
from bot.store.personal import BY_TABLE
from bot.testing import Chatter
from bot.testing.fixtures import START

MARK = "Zebracorn"  # in everything Zed writes, and nowhere else
PERSONISH = re.compile(r"person|user|author|requester|assignee|actor|lead|started_by|external")
TEAM = ConversationRef("slack", "C0TEAM", "channel")
LIBRARY = ConversationRef("slack", "C0LIB", "channel")
ENQUIRY = {
    "question": f"{MARK}: does early mobilisation after hip fracture surgery reduce delirium?",
    "purpose": "research",
    "deadline": "2026-12-11",
    "patient_decision": "no",
    "output": "reference-list",
    "role": f"{MARK} physiotherapist",
    "team": f"{MARK} trauma team",
    "organisation": f"{MARK} Foundation Trust",
}
AAR = {
    "planned": f"{MARK} ten patients a day",
    "actual": f"{MARK} eight a day",
    "difference": f"{MARK} late referrals",
    "learning": f"{MARK} start referrals earlier",
    "actions": f"{MARK} ask GP leads",
    "anonymous": "no",
    "share": "yes",
}


def person_columns(table: Any) -> list[str]:
    """Columns that are foreign keys to `person.id` (or `person.id` itself)."""
    cols = []
    for c in table.columns:
        to_person = any(fk.column.table.name == "person" for fk in c.foreign_keys)
        if to_person or (table.name == "person" and c.name == "id"):
            cols.append(c.name)
    return cols


def is_json(column: Any) -> bool:
    """A JSON column, directly or under a TypeDecorator (e.g. a guarded JSON type)."""
    kind = column.type
    impl = getattr(kind, "impl_instance", None) or getattr(kind, "impl", None)
    return isinstance(kind, JSON) or isinstance(impl, JSON)


def test_every_table_has_a_rule_that_accounts_for_its_person_columns() -> None:
    problems = []
    for table in SQLModel.metadata.sorted_tables:
        rule = BY_TABLE.get(table.name)
        if rule is None:
            problems.append(f"{table.name}: no rule in bot.store.personal.RULES")
            continue
        for c in table.columns:
            fk = c.name in person_columns(table)
            json_column = is_json(c)
            named = bool(PERSONISH.search(c.name))
            if (fk or named or json_column) and c.name not in (*rule.refers, *rule.impersonal):
                problems.append(f"{table.name}.{c.name}: may refer to a person; not in its rule")
        if rule.refers and (rule.find is None or rule.erase is None):
            problems.append(f"{table.name}: refers to people but has no export or erasure")
    stale = set(BY_TABLE) - {t.name for t in SQLModel.metadata.sorted_tables}
    problems += [f"{name}: a rule for a table that no longer exists" for name in stale]
    assert not problems, "\n".join(problems)


async def world(engine: Engine) -> dict[str, Chatter]:
    """Zed, with something in every kind of record; Ann, Bea, a lead, a librarian, an admin."""
    admin = Chatter(engine, "U0ADA", "slack").grant("admin")
    admin.conversation = LIBRARY
    await admin.says("admin librarian-channel")
    admin.conversation = TEAM
    await admin.says("admin campaign knowvember on")
    admin.conversation = None
    lead = Chatter(engine, "U0LEA", "slack", TEAM).grant("lead")
    await lead.says("project new")
    values = {"name": "Falls pilot", "start": "2026-11-23", "end": "2027-03-31"}
    values |= {"members": "U0ZED, U0BEA", "template": "aar", "checkins": ""}
    assert "created (#1)" in await lead.submits("project", values)
    await lead.says("retro now 1")
    zed, bea, ann = (Chatter(engine, u, "slack") for u in ("U0ZED", "U0BEA", "U0ANN"))
    lib = Chatter(engine, "U0LIB", "slack").grant("librarian")
    for who, answers in ((zed, AAR), (bea, {**AAR, "anonymous": "yes"})):
        await who.says("retro")
        answers = {k: v.replace(MARK, "Quokka") if who is bea else v for k, v in answers.items()}
        assert "answers are saved" in await who.submits("answer", answers)
    await zed.says("librarian")
    assert "ENQ-2026-0001" in await zed.submits("enquiry", ENQUIRY)
    await ann.says("librarian")
    theirs = {k: v.replace(MARK, "Quokka") for k, v in ENQUIRY.items()}
    await ann.submits("enquiry", theirs)
    await ann.says("librarian")
    await ann.submits("enquiry", {**theirs, "question": "Quokka question from Ann"})
    for ref in ("ENQ-2026-0001", "ENQ-2026-0002"):
        await lib.says(f"claim {ref}")
        await lib.says(f"reply {ref} Do you want UK studies only?")
        await lib.says(f"note {ref} try CINAHL too")
    await zed.says(f"reply ENQ-2026-0001 {MARK} UK and Europe please")
    await zed.says("ooo 2026-12-21 to 2027-01-02")
    await zed.says(f"knowvember {MARK} I'd ask the night team")
    await admin.says("admin grant lead slack:U0ZED")
    await zed.says("my data")
    await zed.says("librarian")  # a form left open: a draft
    engine.clock.advance(days=10)  # type: ignore[attr-defined]
    with engine.store.session() as s:
        now = s.exec(select(Occasion.id).where(col(Occasion.slot).startswith("now"))).one()
    assert close_occasion(engine, now)  # the digest, naming Zed, to the channel and the lead
    deliver(engine)
    return {"zed": zed, "bea": bea, "ann": ann, "lib": lib, "lead": lead, "admin": admin}


def deliver(engine: Engine) -> None:
    """As the delivery loop would: every queued message sent, with the platform's id."""
    with engine.store.session() as s:
        for row in s.exec(select(OutboxMessage).where(OutboxMessage.status == "pending")):
            row.status, row.message_id, row.sent_at = "sent", f"M{row.id}", engine.store.now()


def person_id(engine: Engine, external_id: str) -> int:
    with engine.store.session() as s:
        pid = s.exec(select(Person.id).where(Person.external_id == external_id)).one()
    assert pid is not None
    return pid


def dump(engine: Engine) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table."""
    out: dict[str, list[dict[str, Any]]] = {}
    with engine.store.engine.connect() as conn:
        for table in SQLModel.metadata.sorted_tables:
            out[table.name] = [dict(r._mapping) for r in conn.execute(table.select())]
    return out


def rows_referring(engine: Engine, pid: int) -> dict[str, list[dict[str, Any]]]:
    """Rows whose person columns hold `pid`, table by table (the schema walk)."""
    found: dict[str, list[dict[str, Any]]] = {}
    for name, rows in dump(engine).items():
        table = SQLModel.metadata.tables[name]
        cols = person_columns(table)
        hits = [r for r in rows if any(r[c] == pid for c in cols)]
        if hits:
            found[name] = hits
    return found


async def test_delete_my_data_leaves_no_row_about_them(
    make_engine: Callable[[str], Engine], database_url: str
) -> None:
    engine = make_engine(database_url)
    people = await world(engine)
    zed = person_id(engine, "U0ZED")
    before = rows_referring(engine, zed)
    assert {"dialog", "absence", "campaign_answer", "audit_log", "outbox"} <= set(before)
    digests = [r for r in dump(engine)["outbox"] if r["dedupe_key"].startswith("occasion:")]
    assert len([r for r in digests if MARK in json.dumps(r["payload"])]) == 2  # body, lead's
    await people["zed"].says("delete my data")
    assert "has been deleted" in await people["zed"].submits("delete-my-data", {"confirm": "yes"})
    assert rows_referring(engine, zed) == {}
    words = re.compile(rf"{MARK}|(?<!\w)U0ZED(?!\w)", re.IGNORECASE)
    left = {
        f"{name}: {row}"
        for name, rows in dump(engine).items()
        for row in rows
        if words.search(json.dumps(row, default=str))
    }
    assert not left, "\n".join(sorted(left))
    with engine.store.session() as s:
        # Bea's anonymous answers stay; Ann's enquiry and the librarian's work on it stay
        assert sorted(s.exec(select(Enquiry.reference))) == ["ENQ-2026-0002", "ENQ-2026-0003"]
        notes = s.exec(select(EnquiryMessage).where(EnquiryMessage.kind == "note")).all()
        assert len(notes) == 1 and notes[0].author_id == person_id(engine, "U0LIB")
        # what was posted in the library channel and relayed to the librarian is replaced
        erased = s.exec(
            select(OutboxMessage).where(col(OutboxMessage.dedupe_key).startswith("erased:"))
        ).all()
        assert erased and all(r.kind == "update" and r.target_id for r in erased)
        assert {r.conversation["id"] for r in erased} == {"C0LIB", "U0LIB"}  # card, relay
    digest = await people["lead"].says("retro digest 1")
    assert "anonymous: Quokka start referrals earlier" in digest and MARK not in digest


async def test_erasing_a_librarian_keeps_the_enquiries_they_handled_without_them(
    make_engine: Callable[[str], Engine], sqlite_url: str
) -> None:
    engine = make_engine(sqlite_url)
    people = await world(engine)
    lib = people["lib"]
    await lib.says("delete my data")
    await lib.submits("delete-my-data", {"confirm": "yes"})
    with engine.store.session() as s:
        enquiries = s.exec(select(Enquiry)).all()
        messages = s.exec(select(EnquiryMessage)).all()
        outbox = s.exec(select(OutboxMessage)).all()
    assert len(enquiries) == 3 and all(e.assignee_id is None for e in enquiries)
    assert [m.text for m in messages if m.kind == "claimed"] == ["Claimed by (deleted)"] * 2
    assert not [r for r in outbox if "U0Lib" in json.dumps(r.payload)]
    assert [r for r in outbox if "Claimed by (deleted)" in json.dumps(r.payload)]


async def test_erased_text_is_not_in_the_sqlite_files(
    make_engine: Callable[[str], Engine], sqlite_url: str
) -> None:
    engine = make_engine(sqlite_url)
    people = await world(engine)
    db = Path(sqlite_url.removeprefix("sqlite:///"))
    files = [db, Path(f"{db}-wal")]
    assert any(MARK.encode() in p.read_bytes() for p in files if p.exists())
    await people["zed"].says("delete my data")
    await people["zed"].submits("delete-my-data", {"confirm": "yes"})
    # the server is still running (its connections are open) when the files are read
    for path in files:
        if path.exists():
            raw = path.read_bytes()
            assert MARK.encode() not in raw, f"{path.name} still holds the erased text"
            assert b"U0ZED" not in raw, f"{path.name} still holds their platform id"


async def test_my_data_holds_every_row_that_refers_to_them(
    make_engine: Callable[[str], Engine], database_url: str
) -> None:
    engine = make_engine(database_url)
    people = await world(engine)
    referring = rows_referring(engine, person_id(engine, "U0ZED"))  # before this export's entry
    out = await people["zed"].says("my data")
    data = json.loads(out.split("\n\n", 1)[1])
    missing = []
    for name, rows in referring.items():
        rule = BY_TABLE[name]
        exported = data.get(rule.key or rule.table)
        if name == "person":
            exported = [exported]
        if name == "enquiry":
            exported = [*exported, *data["enquiries_handled"]]
        pks = [c.name for c in SQLModel.metadata.tables[name].primary_key.columns]
        have = {tuple(r[k] for k in pks) for r in exported or []}
        missing += [f"{name}: {r}" for r in rows if tuple(r[k] for k in pks) not in have]
    assert not missing, "\n".join(missing)
    # rows about them that hold no person id: the librarian's note and the library's card
    assert [m["text"] for m in data["enquiry_messages"] if m["kind"] == "note"] == [
        "try CINAHL too"
    ]
    cards = [r for r in data["outbox"] if r["conversation"].get("id") == "C0LIB"]
    assert cards and all(r["subject"] == "enquiry:1" for r in cards)
    assert data["absences"][0]["starts"] == "2026-12-21"
    assert data["drafts"][0]["flow"] == "enquiry"
    assert {a["action"] for a in data["audit_log"]} >= {"role.grant", "person.export"}
    assert data["person"]["profile"]["requester"]["role"] == ENQUIRY["role"]


def test_export_of_a_year_of_activity_takes_under_a_second(
    make_engine: Callable[[str], Engine], database_url: str
) -> None:
    """A busy person: 50 weekly prompts × 6 answers, 40 enquiries × 8 messages, 2,000 outbox
    rows to or about them among 20,000 others, 500 audit entries."""
    from bench.personal_data import busy_person
    from bot.store import personal

    engine = make_engine(database_url)
    me = busy_person(engine)
    best = min(timed(lambda: personal_export(engine, me)) for _ in range(5))  # a shared CPU
    print(
        f"export of a year of activity ({engine.store.engine.dialect.name}): {best * 1000:.0f} ms"
    )
    with engine.store.session() as s:
        data = personal.export(s, me)
    assert data is not None
    assert len(data["answers"]) == 300 and len(data["enquiry_messages"]) == 320
    assert len(data["outbox"]) == 2000 and len(data["audit_log"]) == 500
    assert best < 1.0
    took = timed(lambda: erase_now(engine, me))
    print(
        f"erasure of a year of activity ({engine.store.engine.dialect.name}): {took * 1000:.0f} ms"
    )
    assert rows_referring(engine, me) == {} and took < 10.0


def erase_now(engine: Engine, pid: int) -> None:
    from bot.features.privacy import erase

    assert erase(engine, pid)


def personal_export(engine: Engine, pid: int) -> None:
    from bot.store import personal

    with engine.store.session() as s:
        personal.export(s, pid)


def timed(fn: Callable[[], None]) -> float:
    start = time.perf_counter()  # a duration, not the time of day: the clock stays injected
    fn()
    return time.perf_counter() - start


async def test_erasure_takes_their_teams_references_too(
    make_engine: Callable[[str], Engine], database_url: str
) -> None:
    """The Teams adapter keeps a member record and a conversation reference with no person id:
    both go, and a group chat's reference that names them is scrubbed."""
    from bot.conversations import Conversations

    engine = make_engine(database_url)
    zed = Chatter(engine, "29:zed-teams-id", "teams", ConversationRef("teams", "a:zed-chat"))
    await zed.says("help")
    refs = Conversations(engine.store, "teams")  # where the Teams adapter keeps them
    refs.save_now("member", "29:zed-teams-id", {"name": "Zed Zebracorn", "aadObjectId": "aad-zed"})
    refs.save_now("conv", "a:zed-chat", {"conversation": {"id": "a:zed-chat", "tenantId": "t1"}})
    refs.save_now(
        "conv", "19:group", {"conversation": {"id": "19:group", "name": "29:zed-teams-id"}}
    )
    refs.save_now("conv", "19:other", {"conversation": {"id": "19:other", "name": "Ward 7"}})
    data = json.loads((await zed.says("my data")).split("\n\n", 1)[1])
    assert len(data["conversation_references"]) == 4  # theirs, member, chat, the group naming them
    await zed.says("delete my data")
    await zed.submits("delete-my-data", {"confirm": "yes"})
    rows = dump(engine)["conversation_reference"]
    assert sorted(r["key"] for r in rows) == ["conv:19:group", "conv:19:other"]
    assert "zed" not in json.dumps(rows, default=str).lower()


async def test_kmb_export_person_writes_the_same_export(
    make_engine: Callable[[str], Engine],
    sqlite_url: str,
    tmp_path: Path,
    monkeypatch: Any,
    capsys: Any,
) -> None:
    from kmb.cli import main

    engine = make_engine(sqlite_url)
    people = await world(engine)
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    target = tmp_path / "zed.json"
    assert main(["export", "person", "slack:U0ZED", "--out", str(target)]) == 0
    by_platform_id = json.loads(target.read_text())
    assert f"wrote {target}" in capsys.readouterr().out
    assert main(["export", "person", str(person_id(engine, "U0ZED"))]) == 0
    by_id = json.loads(capsys.readouterr().out)
    chat = json.loads((await people["zed"].says("my data")).split("\n\n", 1)[1])
    for data in (by_platform_id, by_id):
        assert set(data) == set(chat) and data["enquiries"] == chat["enquiries"]
        assert len(data["outbox"]) == len(chat["outbox"])
    assert main(["export", "person", "slack:U0NOBODY"]) == 1
    assert "no person slack:U0NOBODY" in capsys.readouterr().err
    with engine.store.session() as s:
        exports = s.exec(select(AuditEntry).where(AuditEntry.action == "person.export")).all()
    # the command line's exports are audited (no actor: the operator at the server)
    assert [e.actor_id for e in exports][-3:] == [None, None, person_id(engine, "U0ZED")]


async def test_my_data_on_slack_comes_in_pieces_that_fit_and_join_up(
    make_engine: Callable[[str], Engine], sqlite_url: str
) -> None:
    from bot.features.privacy import MOST_IN_CHAT, PIECE
    from bot.messages import Inbound, Text

    engine = make_engine(sqlite_url)
    people = await world(engine)
    zed = people["zed"]
    inbound = Inbound("message", zed.ref, ConversationRef("slack", "U0ZED"), "my data")
    replies = await engine.handle(inbound)
    texts = [e.text for r in replies for e in r.elements if isinstance(e, Text)]
    assert len(replies) > 1 and all(len(t) <= PIECE for t in texts)
    assert all(len(r.elements) <= 4 for r in replies)  # a card Teams can carry
    data = json.loads("".join(texts[1:]))
    assert data["enquiries"][0]["reference"] == "ENQ-2026-0001"
    # a person with more than chat should carry is told how to get all of it
    with engine.store.session() as s:
        pid = person_id(engine, "U0ZED")
        for n in range(60):
            s.add(Dialog(person_id=pid, flow=f"x{n}", state={"x": "y" * 2000}, updated_at=START))
    out = await zed.says("my data")
    assert len(out) < MOST_IN_CHAT and "`kmb export person slack:U0ZED`" in out
    assert "61 drafts" in out


async def test_kmb_erase_person_for_someone_who_cannot_use_chat(
    make_engine: Callable[[str], Engine],
    sqlite_url: str,
    monkeypatch: Any,
    capsys: Any,
) -> None:
    from kmb.cli import main

    engine = make_engine(sqlite_url)
    await world(engine)
    zed = person_id(engine, "U0ZED")
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    assert main(["erase", "person", "slack:U0ZED"]) == 2  # not without --yes
    assert "cannot be undone" in capsys.readouterr().err
    assert rows_referring(engine, zed)
    assert main(["erase", "person", "slack:U0ZED", "--yes"]) == 0
    assert rows_referring(engine, zed) == {}
    assert main(["erase", "person", "slack:U0ZED", "--yes"]) == 1
    with engine.store.session() as s:
        erasures = s.exec(select(AuditEntry).where(AuditEntry.action == "person.erase")).all()
    assert len(erasures) == 1 and erasures[0].actor_id is None
