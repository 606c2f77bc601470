"""Teams proactive sends: the librarian channel with Claim, refusals, restarts, new 1:1 chats."""

from __future__ import annotations

import asyncio

import pytest
from sqlmodel import select

from bot.messages import ConversationRef, say
from bot.outbox import notify_person
from bot.store.models import OutboxMessage, Person
from bot.testing import Chatter
from tests.teams_rig import Rig, card_of, card_text

ANN_CONV = "a:1anon-personal-ann"
CHANNEL = "19:anonlibrarychannel@thread.tacv2"
ADMIN = "29:1anon-user-admin"
ENQUIRY = {
    "kmb": "form",
    "kmb_form": "enquiry",
    "question": "Does early mobilisation reduce delirium after hip fracture?",
    "purpose": "service-development",
    "deadline": "2026-12-20",
    "patient_decision": "no",
    "output": "reference-list",
}


async def _librarian_channel(rig: Rig) -> None:
    rig.engine.store.grant("teams", ADMIN, "admin")
    out = await rig.says(
        "<at>kmb</at> admin librarian-channel",
        fixture_name="channel_mention",
        id="1732700000101",  # a new post: the thread it starts is named after it
    )
    assert "will be posted in this channel." in card_text(out[0])


async def test_the_librarian_channel_in_teams_end_to_end(engine) -> None:
    async with Rig(engine) as rig:
        await _librarian_channel(rig)
        await rig.says("librarian")
        # The submitted card is replaced and the library channel gets the new enquiry (the
        # rig runs the inbox and the outbox after each request, as `kmb serve` does).
        await rig.post(rig.activity("card_submit", value=ENQUIRY))
        (post,) = [c for c in rig.connector.of_kind("post") if c.conversation_id == CHANNEL]
        card = card_of(post.body)
        assert "ENQ-2026-0001: new enquiry" in card["fallbackText"]
        claim = card["body"][1]["actions"][0]
        assert claim["title"] == "Claim" and claim["data"]["kmb_command"] == "claim ENQ-2026-0001"
        with engine.store.session() as s:
            card_id = s.exec(
                select(OutboxMessage.message_id).where(OutboxMessage.dedupe_key == "enquiry:1:new")
            ).one()
        assert card_id

        # A librarian presses Claim on the card, in the card's thread.
        thread = f"{CHANNEL};messageid={card_id}"
        pressed = rig.activity(
            "channel_mention",
            text="",
            entities=[],
            replyToId=card_id,
            conversation={"conversationType": "channel", "id": thread},
            value=claim["data"],
        )
        before = len(rig.connector.calls)
        status, _ = await rig.post(pressed)
        assert status == 200
        sent = rig.connector.calls[before:]
        assert any("You have ENQ-2026-0001" in card_text(c.body) for c in sent)
        # (different conversations are delivered side by side, in either order)
        (update,) = [c for c in sent if c.kind == "update"]
        (notice,) = [c for c in sent if c.conversation_id == ANN_CONV]
        assert update.kind == "update" and update.activity_id == card_id
        assert "Claimed by Ada Admin" in card_text(update.body)
        assert notice.conversation_id == ANN_CONV and "picked up" in card_text(notice.body)

        # The librarian writes in the card's thread; it reaches the requester's chat.
        await rig.says(
            "<at>kmb</at> Adults only, or children too?",
            fixture_name="channel_mention",
            conversation={"conversationType": "channel", "id": thread},
        )
        to_ann = [c for c in rig.connector.calls if c.conversation_id == ANN_CONV]
        assert "Adults only, or children too?" in card_text(to_ann[-1].body)

        # The requester answers; it comes back under the card in the channel.
        await rig.says("reply ENQ-2026-0001 Adults only, thanks")
        (back,) = [c for c in rig.connector.calls if c.conversation_id == thread][-1:]
        assert back.kind == "post"
        assert "Adults only, thanks" in card_text(back.body)


async def test_a_console_requester_reaches_a_teams_librarian_channel(engine) -> None:
    async with Rig(engine) as rig:
        await _librarian_channel(rig)
        sam = Chatter(engine, "sam")
        await sam.says("librarian")
        await sam.submits("enquiry", {k: v for k, v in ENQUIRY.items() if k[:3] != "kmb"})
        assert await rig.deliver() == 1  # the console's own answer is not the outbox's
        assert rig.connector.calls[-1].conversation_id == CHANNEL
        assert "from Sam" in rig.connector.calls[-1].body["summary"]


@pytest.mark.parametrize(
    ("status", "extra", "expect"),
    [
        (429, {"retry_after": 7}, {"retry_after": 7.0, "permanent": False}),
        (412, {}, {"retry_after": None, "permanent": False}),
        (502, {}, {"retry_after": None, "permanent": False}),
        (504, {}, {"retry_after": None, "permanent": False}),
        (403, {"code": "MessageWritesBlocked"}, {"unreachable": True, "permanent": True}),
        (404, {"code": "ConversationNotFound"}, {"permanent": True, "unreachable": False}),
    ],
)
async def test_connector_refusals_are_reported_not_raised(engine, status, extra, expect) -> None:
    async with Rig(engine) as rig:
        await rig.says("help")
        rig.connector.fail_next(status, **extra)
        result = await rig.senders["teams"].send(ConversationRef("teams", ANN_CONV), say("hi"))
        assert not result.ok
        for field, value in expect.items():
            assert getattr(result, field) == value, (field, result)
        again = await rig.senders["teams"].send(ConversationRef("teams", ANN_CONV), say("hi"))
        assert again.ok and again.message_id


async def test_the_outbox_honours_retry_after_and_marks_blocked_people_unreachable(
    engine, clock
) -> None:
    async with Rig(engine) as rig:
        await rig.says("help")
        with engine.store.session() as s:
            ann = s.exec(select(Person)).one()
            notify_person(engine.store, s, ann, say("Your retro is open."), "t:1")
        rig.connector.fail_next(429, retry_after=30)
        await rig.deliver()
        the_row = select(OutboxMessage).where(OutboxMessage.dedupe_key == "t:1")
        with engine.store.session() as s:
            row = s.exec(the_row).one()
            assert row.status == "pending" and (row.due_at - clock.now()).total_seconds() == 30
        clock.advance(seconds=31)
        rig.connector.fail_next(403, code="MessageWritesBlocked")
        await rig.deliver()
        with engine.store.session() as s:
            assert s.exec(the_row).one().status == "parked"
            assert s.exec(select(Person)).one().reachable is False


async def test_a_proactive_send_after_a_restart_uses_the_stored_reference(
    make_engine, sqlite_url
) -> None:
    first = make_engine(sqlite_url)
    async with Rig(first) as rig:
        await rig.says("help")
        connector = rig.connector
        rig.own_connector = False
    restarted = make_engine(sqlite_url)  # a new process: nothing in memory
    async with Rig(restarted, connector=connector) as rig:
        with restarted.store.session() as s:
            ann = s.exec(select(Person)).one()
            notify_person(restarted.store, s, ann, say("Your AAR is open."), "t:restart")
        assert await rig.deliver() == 1
        call = connector.calls[-1]
        assert call.kind == "post" and call.conversation_id == ANN_CONV
        assert "Your AAR is open." in card_text(call.body)
    await connector.stop()


async def test_a_team_member_without_a_chat_gets_one_created_with_the_tenant(engine) -> None:
    async with Rig(engine) as rig:
        rig.connector.members["19:anonteam@thread.tacv2"] = [
            {"id": "29:1anon-member-bob", "name": "Bob", "aadObjectId": "aad-bob"}
        ]
        await rig.post(rig.activity("team_install"))
        await asyncio.gather(*rig.bot.background)
        with engine.store.session() as s:
            bob = engine.store.person(s, "teams", "29:1anon-member-bob", "Bob")
            notify_person(engine.store, s, bob, say("Welcome to the project."), "t:bob")
        assert await rig.deliver() == 1
        create, post = rig.connector.calls[-2:]
        assert create.kind == "create"
        assert create.body["members"] == [{"id": "29:1anon-member-bob"}]
        tenant = "00000000-0000-0000-0000-00000000c0de"
        assert create.body["channelData"] == {"tenant": {"id": tenant}}  # Teams requires it
        assert post.conversation_id == "a:personal-29:1anon-member-bob"
        # Stored: the next message goes straight to the new chat.
        with engine.store.session() as s:
            bob = s.exec(select(Person).where(Person.external_id == "29:1anon-member-bob")).one()
            notify_person(engine.store, s, bob, say("Second."), "t:bob2")
        await rig.deliver()
        assert rig.connector.calls[-1].kind == "post"
        assert len(rig.connector.of_kind("create")) == 1


async def test_someone_kmb_cannot_reach_is_a_permanent_failure(engine) -> None:
    async with Rig(engine) as rig:
        result = await rig.senders["teams"].send(ConversationRef("teams", "29:stranger"), say("x"))
        assert not result.ok and result.permanent
