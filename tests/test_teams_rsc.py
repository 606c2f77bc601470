"""Replies in a card's thread reach kmb without an @mention (resource-specific consent)."""

from __future__ import annotations

from sqlmodel import func, select

from bot.store.models import EnquiryMessage, OutboxMessage, Person
from tests.teams_rig import Rig, card_text
from tests.test_teams_delivery import ANN_CONV, CHANNEL, ENQUIRY, _librarian_channel


async def test_an_unmentioned_reply_under_the_card_reaches_the_requester(engine) -> None:
    async with Rig(engine) as rig:
        await _librarian_channel(rig)
        rig.engine.store.grant("teams", "29:1anon-user-admin", "librarian")
        await rig.says("librarian")
        await rig.post(rig.activity("card_submit", value=ENQUIRY))
        assert await rig.deliver() == 1
        with engine.store.session() as s:
            card_id = s.exec(select(OutboxMessage.message_id)).one()
        thread = f"{CHANNEL};messageid={card_id}"

        # With ChannelMessage.Read.Group, Teams sends a thread reply that mentions nobody.
        out = await rig.says(
            "Do you need adults only, or children too?",
            fixture_name="channel_mention",
            entities=[],
            conversation={"conversationType": "channel", "id": thread},
        )
        assert "Sent on ENQ-2026-0001" in card_text(out[-1])
        await rig.deliver()
        dm = rig.connector.calls[-1]
        assert dm.conversation_id == ANN_CONV
        assert "adults only, or children too?" in card_text(dm.body)
        with engine.store.session() as s:
            kinds = [m.kind for m in s.exec(select(EnquiryMessage))]
        assert kinds[-1] == "to_requester"


async def test_other_channel_talk_is_heard_but_neither_answered_nor_kept(engine) -> None:
    async with Rig(engine) as rig:
        before = len(rig.connector.calls)
        for n, conversation in enumerate(
            [
                {"conversationType": "channel", "id": CHANNEL},
                {"conversationType": "channel", "id": f"{CHANNEL};messageid=17327000999"},
            ]
        ):
            status, _ = await rig.post(
                rig.activity(
                    "channel_mention",
                    text="Who has the handover sheet?",
                    entities=[],
                    conversation=conversation,
                    id=f"overheard-{n}",
                )
            )
            assert status == 200
        assert len(rig.connector.calls) == before
        with engine.store.session() as s:
            assert s.exec(select(func.count()).select_from(Person)).one() == 0
