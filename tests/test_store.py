"""The store's contract, on SQLite and on a real PostgreSQL server."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.exc import IntegrityError
from sqlmodel import SQLModel, func, select

from bot import inbox
from bot.clock import FakeClock
from bot.messages import say
from bot.outbox import notify_person
from bot.store import Store
from bot.store.models import OutboxMessage, Person, Project
from bot.testing.fixtures import START


@pytest.fixture
def store(database_url: str):
    s = Store(database_url, FakeClock(START))
    s.upgrade()
    yield s
    s.engine.dispose()


def test_upgrade_is_idempotent_and_matches_the_models(store: Store) -> None:
    store.upgrade()
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    assert diff == [], diff
    assert store.ping()


def test_people_are_unique_per_platform(store: Store) -> None:
    with store.session() as s:
        a = store.person(s, "slack", "U1", "Ann")
        b = store.person(s, "slack", "U1")
        c = store.person(s, "teams", "U1")
        assert a.id == b.id != c.id
    with pytest.raises(IntegrityError), store.session() as s:
        s.add(Person(platform="slack", external_id="U1", created_at=store.now()))


def test_inbox_keys_dedupe_per_platform_and_can_be_forgotten(store: Store) -> None:
    # Replaces claim_event/release_event, which committed the key before the work did.
    def record(platform: str, key: str) -> bool:
        with store.unit() as s:
            return inbox.record(store, s, platform, key) is not None

    assert record("slack", "Ev1")
    assert not record("slack", "Ev1")
    assert record("teams", "Ev1")
    inbox.forget(store, "slack", "Ev1")
    assert record("slack", "Ev1")


def test_a_unit_commits_every_session_inside_it_together_or_not_at_all(store: Store) -> None:
    with pytest.raises(RuntimeError), store.unit() as s:
        assert inbox.record(store, s, "slack", "Ev2") is not None
        with store.session() as inner:  # a feature's own session joins the unit
            store.person(inner, "slack", "U9", "Uma")
        raise RuntimeError("the turn failed after its effects")
    with store.session() as s:
        assert s.exec(select(Person).where(Person.external_id == "U9")).first() is None
    with store.unit() as s:  # nothing was kept, so the retry is not a duplicate
        assert inbox.record(store, s, "slack", "Ev2") is not None
        with store.session() as inner:
            uma = store.person(inner, "slack", "U9", "Uma")
        assert uma.id is not None  # flushed on leaving the inner session
    with store.session() as s:
        assert s.exec(select(Person).where(Person.external_id == "U9")).one().id == uma.id


def test_outbox_dedupe_key_queues_once(store: Store) -> None:
    with store.session() as s:
        person = store.person(s, "slack", "U1")
        for _ in range(3):
            notify_person(store, s, person, say("hello"), "prompt:1:invite")
    with store.session() as s:
        rows = s.exec(select(OutboxMessage)).all()
    assert len(rows) == 1 and rows[0].payload["elements"][0]["text"] == "hello"


def test_failed_transaction_leaves_nothing_half_saved(store: Store) -> None:
    with pytest.raises(RuntimeError), store.session() as s:
        store.person(s, "slack", "U9")
        raise RuntimeError("boom")
    with store.session() as s:
        assert s.exec(select(func.count()).select_from(Person)).one() == 0


def test_datetimes_round_trip_as_aware_utc(store: Store) -> None:
    with store.session() as s:
        p = store.person(s, "console", "x")
        s.add(
            Project(
                name="P",
                lead_id=p.id,
                start_date=START.date(),
                end_date=START.date(),
                created_at=START,
            )
        )
    with store.session() as s:
        project = s.exec(select(Project)).one()
    assert project.created_at == START and project.created_at.tzinfo is not None


def test_settings_round_trip(store: Store) -> None:
    with store.session() as s:
        store.set_setting(s, "librarian-channel", {"platform": "slack", "id": "C1"})
    assert store.get_setting("librarian-channel") == {"platform": "slack", "id": "C1"}
    assert store.get_setting("missing") is None


async def test_a_whole_enquiry_on_this_database(database_url, make_engine) -> None:
    from bot.testing import Chatter
    from tests.test_enquiries import ENQUIRY

    engine = make_engine(database_url)
    ann = Chatter(engine, "ann")
    out = ""
    for line in ENQUIRY:
        out = await ann.says(line)
    assert "ENQ-2026-0001" in out
    lib = Chatter(engine, "lib").grant("librarian")
    await lib.says("claim ENQ-2026-0001")
    assert "picked up" in ann.opens()
