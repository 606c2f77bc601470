"""Replies in a card's thread reach kmb without an @mention (resource-specific consent)."""

from __future__ import annotations

import json

from sqlmodel import func, select

from bot.directory import directory_of
from bot.store.models import EnquiryMessage, OutboxMessage, Person, Project
from tests.teams_rig import Rig, card_text
from tests.test_teams_delivery import ANN_CONV, CHANNEL, ENQUIRY, _librarian_channel


async def test_an_unmentioned_reply_under_the_card_reaches_the_requester(engine) -> None:
    async with Rig(engine) as rig:
        await _librarian_channel(rig)
        rig.engine.store.grant("teams", "29:1anon-user-admin", "librarian")
        await rig.says("librarian")
        await rig.post(rig.activity("card_submit", value=ENQUIRY))  # the rig delivers it too
        with engine.store.session() as s:
            card_id = s.exec(
                select(OutboxMessage.message_id).where(OutboxMessage.dedupe_key == "enquiry:1:new")
            ).one()
        assert card_id
        thread = f"{CHANNEL};messageid={card_id}"

        # With ChannelMessage.Read.Group, Teams sends a thread reply that mentions nobody.
        before = len(rig.connector.calls)
        out = await rig.says(
            "Do you need adults only, or children too?",
            fixture_name="channel_mention",
            entities=[],
            conversation={"conversationType": "channel", "id": thread},
        )
        assert any("Sent on ENQ-2026-0001" in card_text(body) for body in out)
        dms = [c for c in rig.connector.calls[before:] if c.conversation_id == ANN_CONV]
        assert dms and "adults only, or children too?" in card_text(dms[0].body)
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


async def test_a_file_sent_to_kmb_in_teams_is_named_and_not_passed_on(engine) -> None:
    async with Rig(engine) as rig:
        image = {"contentType": "image/png", "contentUrl": "https://x.invalid/i", "name": "w.png"}
        out = await rig.says("tool premortem", attachments=[image])
        assert "Premortem" in card_text(out[0])
        assert "“w.png”" in card_text(out[-1]) and "does not pass files on" in card_text(out[-1])


async def test_a_teams_channel_kmb_cannot_list_is_explained_and_nothing_saved(engine) -> None:
    async with Rig(engine) as rig:
        rig.engine.directory = directory_of(rig.senders.values())
        rig.engine.store.grant("teams", "29:1anon-user-admin", "lead")
        await rig.says("<at>kmb</at> project new", fixture_name="channel_mention")
        rig.connector.fail_next(403, code="Forbidden", kinds=("members",))
        values = {
            "kmb": "form",
            "kmb_form": "project",
            "name": "Theatre lists",
            "start": "2026-11-23",
            "end": "2027-03-31",
            "members": "this channel",
            "template": "aar",
        }
        out = await rig.says("", fixture_name="channel_mention", value=values)
        assert "Teams would not say who is in this channel" in json.dumps(out)
        with engine.store.session() as s:
            assert s.exec(select(func.count()).select_from(Project)).one() == 0
