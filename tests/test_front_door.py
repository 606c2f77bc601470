"""The front door: what any platform can tell kmb arrives as an `Inbound` for the engine.

Installs and removals, the home view, message shortcuts and messages in threads under kmb's
posts are decided in the core, once, for every platform; these tests speak to the engine as an
adapter would, without one.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

from sqlmodel import func, select

from bot.conversations import Conversations, remember_conversation
from bot.engine import Engine
from bot.inbox import Outgoing, Route
from bot.messages import ConversationRef, Form, Inbound, PersonRef, Reply, say
from bot.outbox import notify_channel
from bot.store import Store
from bot.store.models import ConversationReference, Enquiry, OutboxMessage, Person
from bot.turn import Turn

ANN = PersonRef("chatland", "u-ann", "Ann")
DM = ConversationRef("chatland", "dm-ann", "personal")
TEAM = ConversationRef("chatland", "team-1", "channel")


def _welcomes(engine: Engine) -> int:
    with engine.store.session() as s:
        rows = s.exec(select(OutboxMessage)).all()
    return sum("Hello, I'm kmb" in str(r.payload) for r in rows)


async def test_a_personal_install_is_welcomed_once_and_again_after_a_removal(
    engine: Engine,
) -> None:
    for n in range(3):  # the platform reports one install several times
        await engine.handle(Inbound("installed", ANN, DM, event_id=f"act-{n}"), _to_outbox)
    assert _welcomes(engine) == 1
    with engine.store.session() as s:
        keys = set(s.exec(select(ConversationReference.key)).all())
    assert any(k.startswith("person:") for k in keys)  # the person, and where to reach them

    refs = engine.references("chatland")
    await refs.save("conv", DM.id, {"id": DM.id})
    await engine.handle(Inbound("uninstalled", ANN, DM, event_id="act-gone"))
    assert await refs.load("conv", DM.id) == ({"id": DM.id}, False)
    await engine.handle(Inbound("installed", ANN, DM, event_id="act-back"), _to_outbox)
    assert _welcomes(engine) == 2


async def test_a_team_install_remembers_the_people_added_with_kmb(engine: Engine) -> None:
    members = tuple(PersonRef("chatland", f"u-{n}", f"Member {n}") for n in range(3))
    replies = await engine.handle(Inbound("installed", ANN, TEAM, members=members))
    assert replies == []
    with engine.store.session() as s:
        known = set(s.exec(select(Person.external_id)).all())
    assert {"u-0", "u-1", "u-2"} <= known


async def test_the_home_view_and_a_message_shortcut(engine: Engine) -> None:
    [home] = await engine.handle(Inbound("home", ANN, DM))
    assert "Waiting for your answer" in home.to_text() and "Ask a librarian" in home.to_text()
    text = "Is there evidence for music therapy in dementia care?"
    replies = await engine.handle(Inbound("shortcut", ANN, DM, text, event_id="sc-1"))
    [form] = [e for r in replies for e in r.elements if isinstance(e, Form)]
    assert form.title == "Ask a librarian" and form.inputs[0].initial == text
    with engine.store.session() as s:
        assert s.exec(select(func.count()).select_from(Enquiry)).one() == 0  # a form to send


def _post_with_thread(engine: Engine, subject: str, ts: str) -> None:
    with engine.store.session() as s:
        notify_channel(engine.store, s, {"platform": "chatland", "id": TEAM.id}, say("x"), ts)
        row = s.exec(select(OutboxMessage).where(OutboxMessage.dedupe_key == ts)).one()
        row.subject, row.status, row.message_id = subject, "sent", ts


async def test_a_thread_under_kmbs_post_is_routed_once_in_the_core(engine: Engine) -> None:
    heard: list[tuple[int, str]] = []

    def probe(turn: Turn, ident: int, text: str) -> list[Reply]:
        heard.append((ident, text))
        return [say(f"kept for {ident}")]

    engine.thread("probe", probe)
    _post_with_thread(engine, "probe:7", "ts-1")
    under = ConversationRef("chatland", TEAM.id, "channel", thread="ts-1")
    elsewhere = ConversationRef("chatland", TEAM.id, "channel", thread="ts-other")

    # not said to kmb, in kmb's thread: the post's feature has it
    out = await engine.handle(Inbound("message", ANN, under, "pair me", addressed=False))
    assert [r.to_text() for r in out] == ["kept for 7"]
    # @kmb with words that are not a chat word: still someone writing in that thread
    out = await engine.handle(Inbound("message", ANN, under, "and pharmacy too"))
    assert [r.to_text() for r in out] == ["kept for 7"]
    # @kmb help under the post: a command
    out = await engine.handle(Inbound("message", ANN, under, "help"))
    assert "kept for" not in out[0].to_text() and heard == [
        (7, "pair me"),
        (7, "and pharmacy too"),
    ]
    # overheard in someone else's thread: nothing
    assert await engine.handle(Inbound("message", ANN, elsewhere, "hi", addressed=False)) == []


def _to_outbox(inbound: Inbound, route: Route, replies: Sequence[Reply]) -> list[Outgoing]:
    return [Outgoing(inbound.conversation, r) for r in replies]


def test_two_first_messages_at_once_store_one_reference(database_url: str, clock) -> None:
    """Two turns of one person's first DMs both find no reference and both insert it: the
    second must wait for the first and update, not fail on the unique key."""
    store = Store(database_url, clock)
    store.upgrade()
    try:
        with store.session() as s:
            person = store.person(s, "chatland", "u-ann", "Ann")
        first_in = threading.Event()
        second_in = threading.Event()
        errors: list[BaseException] = []

        def second() -> None:
            first_in.wait()
            second_in.set()
            try:
                with store.session() as s:
                    remember_conversation(store, s, person, DM)
            except BaseException as exc:  # the race lost: the unique key refused it
                errors.append(exc)

        worker = threading.Thread(target=second)
        worker.start()
        with store.session() as s:
            remember_conversation(store, s, person, DM)
            s.flush()  # the first row is written, not yet committed
            first_in.set()
            # the second either finishes (it cannot see the uncommitted row) or waits on ours; a
            # moment is enough for it to reach the insert. A real sleep, not a timed wait on an
            # event: under libfaketime (CI's hostile-moment passes) a timed condition wait can
            # outlast SQLite's 10 s busy timeout, so the test failed for the wrong reason.
            second_in.wait()
            time.sleep(0.3)
        worker.join(20)
        assert not errors, errors
        with store.session() as s:
            rows = s.exec(select(ConversationReference)).all()
        assert [(r.key, r.usable) for r in rows] == [(f"person:{person.id}", True)]
    finally:
        store.engine.dispose()


def test_references_save_only_what_changed_and_hash_long_keys(engine: Engine) -> None:
    refs = Conversations(engine.store, "chatland")
    long_id = "x" * 300
    refs.save_now("conv", long_id, {"a": 1})
    refs.save_now("conv", long_id, {"a": 1})
    refs.mark_unusable_now("conv", long_id)
    assert refs.load_now("conv", long_id) == ({"a": 1}, False)
    refs.save_now("conv", long_id, {"a": 1})  # usable again: written, though unchanged
    assert refs.load_now("conv", long_id) == ({"a": 1}, True)
    with engine.store.session() as s:
        [key] = s.exec(select(ConversationReference.key)).all()
    assert key.startswith("conv#") and len(key) <= 200
