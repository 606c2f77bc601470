"""Teams through the front door: activities to /api/messages, replies at a fake connector."""

from __future__ import annotations

import asyncio

from sqlmodel import func, select

from adapters.teams.activity import to_inbound
from bot import inbox
from bot.messages import ConversationRef, say
from bot.store.models import ConversationReference, Enquiry
from tests.teams_rig import Rig, card_of, card_text, fixture

ANN_CONV = "a:1anon-personal-ann"
CHANNEL = "19:anonlibrarychannel@thread.tacv2"
ADMIN = "29:1anon-user-admin"


async def test_a_personal_message_gets_a_card_reply_to_that_activity(engine) -> None:
    async with Rig(engine) as rig:
        out = await rig.says("help", id="m-1")
        call = rig.connector.calls[-1]
        assert call.kind == "reply" and call.conversation_id == ANN_CONV
        assert call.activity_id == "m-1"
        assert "`help` — this list" in card_text(out[0])
        assert out[0]["summary"] == "What kmb can do"


async def test_unknown_words_get_the_closest_command_never_silence(engine) -> None:
    async with Rig(engine) as rig:
        out = await rig.says("lesons handover")
        assert "I didn't understand" in card_text(out[0])
        assert "Did you mean `lessons`?" in card_text(out[0])


async def test_in_a_channel_the_mention_is_stripped_and_the_reply_threads(engine) -> None:
    async with Rig(engine) as rig:
        out = await rig.says("<at>kmb</at> tool capture lessons", fixture_name="channel_mention")
        call = rig.connector.calls[-1]
        assert call.conversation_id.startswith(CHANNEL + ";messageid=")
        assert "After Action Review" in card_text(out[0]) or "Retrospect" in card_text(out[0])


async def test_a_channel_message_that_does_not_mention_kmb_is_left_alone(engine) -> None:
    async with Rig(engine) as rig:
        out = await rig.says("help", fixture_name="channel_mention", entities=[])
        assert out == []


async def test_a_card_button_runs_its_command(engine) -> None:
    async with Rig(engine) as rig:
        status, _ = await rig.post(rig.activity("card_submit"))
        assert status == 200
        assert "Before" in card_text(rig.connector.calls[-1].body)  # the catalogue by phase


async def test_action_execute_invoke_answers_with_a_card_in_the_body(engine) -> None:
    async with Rig(engine) as rig:
        status, body = await rig.post(rig.activity("invoke_execute"))
        assert status == 200
        assert body["statusCode"] == 200
        assert body["type"] == "application/vnd.microsoft.card.adaptive"
        assert (
            body["value"]["type"] == "AdaptiveCard" and "Before" in body["value"]["fallbackText"]
        )
        assert rig.connector.calls == []  # the card is replaced by the invoke answer itself


async def test_an_unknown_invoke_is_not_implemented_not_an_error(engine) -> None:
    async with Rig(engine) as rig:
        status, _ = await rig.post(rig.activity("invoke_execute", name="composeExtension/query"))
        assert status == 501


async def test_bad_requests_get_clear_answers(engine) -> None:
    async with Rig(engine) as rig:
        assert rig.http is not None
        url = f"{rig.base}/api/messages"
        async with rig.http.post(url, data="hello", headers={"Content-Type": "text/plain"}) as r:
            assert r.status == 415
        async with rig.http.post(
            url, data="{not json", headers={"Content-Type": "application/json"}
        ) as r:
            assert r.status == 400
        async with rig.http.post(url, json={"text": "no type"}) as r:
            assert r.status == 400 and "type" in (await r.json())["error"]


async def test_a_message_is_saved_before_the_200_and_answered_after(engine) -> None:
    # Replaces the typing-indicator test: the answer no longer happens inside the HTTP turn.
    async with Rig(engine) as rig:
        status, _ = await rig.post_only(rig.activity("personal_message", text="help"))
        assert status == 200 and rig.connector.calls == []
        assert inbox.counts(engine.store) == {"pending": 1}
        await rig.work()
        assert inbox.counts(engine.store) == {"done": 1}
        (answer,) = rig.connector.calls
        assert answer.kind == "reply" and "attachments" in answer.body


async def test_a_resent_activity_has_one_effect(engine) -> None:
    async with Rig(engine) as rig:
        await rig.says("librarian")
        submit = rig.activity(
            "card_submit",
            id="submit-1",
            value={
                "kmb": "form",
                "kmb_form": "enquiry",
                "question": "Does early mobilisation reduce delirium after hip fracture?",
                "purpose": "service-development",
                "deadline": "2026-12-20",
                "patient_decision": "no",
                "output": "reference-list",
            },
        )
        first = await rig.post(submit)
        second = await rig.post(submit)  # Teams re-sends after ~15 s without an answer
        assert first[0] == second[0] == 200
        with engine.store.session() as s:
            assert s.exec(select(func.count()).select_from(Enquiry)).one() == 1
        assert len(rig.connector.of_kind("update")) == 1


async def test_an_undelivered_reply_is_retried_and_a_resent_activity_is_not_run_again(
    engine, clock
) -> None:
    # Once, a failed reply made kmb answer 500 and Teams' retry then got 200 and no reply.
    async with Rig(engine) as rig:
        rig.connector.fail_next(502, kinds=("reply",))
        hello = rig.activity("personal_message", id="hello-1", text="help")
        status, _ = await rig.post(hello)
        assert status == 200  # saved: the reply's failure is the outbox's to retry
        assert [c.body["refused"] for c in rig.connector.of_kind("reply")] == [502]
        status, _ = await rig.post(hello)  # Teams re-sends the same activity
        assert status == 200 and inbox.counts(engine.store) == {"done": 1}
        clock.advance(seconds=10)
        await rig.deliver()
        replies = rig.connector.of_kind("reply")
        assert len(replies) == 2 and "attachments" in replies[-1].body


async def test_a_valid_form_is_committed_then_the_card_is_replaced(engine) -> None:
    async with Rig(engine) as rig:
        await rig.says("librarian")
        form_card = rig.connector.calls[-1]
        await rig.post(
            rig.activity(
                "card_submit",
                replyToId="1001",
                value={
                    "kmb": "form",
                    "kmb_form": "enquiry",
                    "question": "What helps staff retention on night shifts?",
                    "purpose": "audit-qi",
                    "deadline": "2026-12-20",
                    "patient_decision": "yes",
                    "output": "evidence-summary",
                },
            )
        )
        update = rig.connector.calls[-1]
        assert form_card.kind == "reply"
        assert update.kind == "update" and update.activity_id == "1001"
        assert "ENQ-2026-0001" in card_text(update.body)
        with engine.store.session() as s:
            assert s.exec(select(Enquiry)).one().patient_decision is True


async def test_an_invalid_form_comes_back_on_the_card_with_its_errors(engine) -> None:
    async with Rig(engine) as rig:
        await rig.says("librarian")
        await rig.post(
            rig.activity(
                "card_submit",
                value={
                    "kmb": "form",
                    "kmb_form": "enquiry",
                    "kmb_spec": card_of(rig.connector.calls[-1].body)["body"][0]["items"][-1][
                        "actions"
                    ][0]["data"]["kmb_spec"],
                    "question": "Is there evidence for music therapy in dementia care?",
                    "purpose": "research",
                    "deadline": "2020-01-01",
                    "patient_decision": "no",
                    "output": "reference-list",
                },
            )
        )
        update = rig.connector.calls[-1]
        assert update.kind == "update"
        items = next(b for b in card_of(update.body)["body"] if b["type"] == "Container")["items"]
        deadline = next(i for i in items if i.get("id") == "deadline")
        after = items[items.index(deadline) + 1]
        assert after["color"] == "Attention" and "passed" in after["text"]
        question = next(i for i in items if i.get("id") == "question")
        assert question["value"].startswith("Is there evidence for music therapy")
        with engine.store.session() as s:
            assert s.exec(select(func.count()).select_from(Enquiry)).one() == 0


async def test_a_personal_install_gets_exactly_one_welcome(engine) -> None:
    async with Rig(engine) as rig:
        await rig.post(rig.activity("install_personal"))
        await rig.post(rig.activity("conversation_update_personal"))
        await rig.post(rig.activity("install_personal"))  # the Playground re-sends on reload
        welcomes = [c for c in rig.connector.calls if "Hello, I'm kmb" in card_text(c.body)]
        assert len(welcomes) == 1
        text = card_text(welcomes[0].body)
        assert "patient-identifiable" in text and "`help`" in text
        with engine.store.session() as s:
            keys = set(s.exec(select(ConversationReference.key)).all())
        assert f"conv:{ANN_CONV}" in keys and any(k.startswith("person:") for k in keys)


async def test_uninstall_marks_the_reference_unusable_and_reinstall_welcomes_again(
    engine,
) -> None:
    async with Rig(engine) as rig:
        await rig.post(rig.activity("install_personal"))
        await rig.post(rig.activity("uninstall_personal"))
        result = await rig.senders["teams"].send(ConversationRef("teams", ANN_CONV), say("hi"))
        assert not result.ok and result.unreachable
        await rig.post(rig.activity("install_personal"))
        welcomes = [c for c in rig.connector.calls if "Hello, I'm kmb" in card_text(c.body)]
        assert len(welcomes) == 2
        result = await rig.senders["teams"].send(ConversationRef("teams", ANN_CONV), say("hi"))
        assert result.ok


async def test_a_team_install_stores_the_team_and_lists_members_page_by_page(engine) -> None:
    async with Rig(engine) as rig:
        rig.connector.members["19:anonteam@thread.tacv2"] = [
            {"id": f"29:1anon-member-{n}", "name": f"Member {n}", "aadObjectId": f"aad-{n}"}
            for n in range(3)
        ]
        await rig.post(rig.activity("team_install"))
        await asyncio.gather(*rig.bot.background)
        pages = rig.connector.of_kind("members")
        assert len(pages) == 2
        assert "continuationToken" not in pages[0].query
        assert pages[1].query["continuationToken"] == "2"
        with engine.store.session() as s:
            keys = set(s.exec(select(ConversationReference.key)).all())
        assert {f"member:29:1anon-member-{n}" for n in range(3)} <= keys
        assert "team:19:anonteam@thread.tacv2" in keys


def test_only_what_addressing_the_replies_needs_travels_with_the_turn() -> None:
    """The inbox keeps the turn, not the whole activity (names, mentions, team and tenant)."""
    inbound = to_inbound(fixture("channel_mention", replyToId="1732700000101"))
    assert inbound is not None
    assert set(inbound.raw) == {"type", "id", "replyToId"}
