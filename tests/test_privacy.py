"""`my data` and `delete my data`: export everything; erase with cascade, anonymous stays."""

import json

from sqlmodel import func, select

from bot.store.models import Answer, Enquiry, Lesson, Person
from tests.test_retros import ANSWERS, PROJECT


async def _setup(chat):
    lead = chat("lea", role="lead")
    for line in PROJECT:
        await lead.says(line)
    await lead.says("retro now 1")
    bea, cal = chat("bea"), chat("cal")
    for who, anon in ((bea, "no"), (cal, "yes")):
        await who.says("retro")
        for line in [*ANSWERS, anon, "yes"]:
            await who.says(line)
    return lead, bea, cal


async def test_my_data_is_everything_as_json(chat) -> None:
    _, bea, _ = await _setup(chat)
    for line in [
        "librarian evidence on hourly rounding",
        "skip",
        "research",
        "in 3 weeks",
        "no",
        "1",
        "skip",
        "skip",
        "skip",
        "Staff nurse",
        "skip",
        "skip",
    ]:
        await bea.says(line)
    out = await bea.says("my data")
    data = json.loads(out.split("\n\n", 1)[1])
    assert data["person"]["external_id"] == "bea"
    assert {a["text"] for a in data["answers"]} == set(ANSWERS)
    assert len(data["lessons"]) == 5 and data["memberships"]
    assert data["enquiries"][0]["question"] == "evidence on hourly rounding"
    assert data["person"]["profile"]["requester"]["role"] == "Staff nurse"  # remembered


async def test_delete_my_data_cascades_and_keeps_anonymous_unlinked(chat) -> None:
    lead, bea, cal = await _setup(chat)
    store = bea.engine.store
    assert "Nothing was deleted" in (await bea.says("delete my data"), await bea.says("no"))[1]
    await cal.says("delete my data")
    assert "everything kmb held about you has been deleted" in await cal.says("yes")
    await bea.says("delete my data")
    await bea.says("yes")
    with store.session() as s:
        people = {p.external_id for p in s.exec(select(Person))}
        answers = s.exec(select(Answer)).all()
        lessons = s.exec(select(Lesson)).all()
        enquiries = s.exec(select(func.count()).select_from(Enquiry)).one()
    assert "bea" not in people and "cal" not in people
    # Bea's named answers are gone; Cal's anonymous ones stay, linked to no one.
    assert len(answers) == 6 and all(a.prompt_id is None for a in answers)
    assert len(lessons) == 5 and all(x.author_id is None for x in lessons)
    assert enquiries == 0
    digest = await lead.says("retro digest 1")
    assert "— anonymous: Hourly rounding stuck" in digest and "Bea" not in digest
