"""A desk with something on every page: enquiries asked and worked in chat, a project with a
digest, a shared lesson and KNOWvember answers (for browser tests and the screenshots)."""

from __future__ import annotations

import datetime as dt

from bot.engine import Engine
from bot.store.models import (
    Answer,
    CampaignAnswer,
    CampaignRun,
    Lesson,
    Membership,
    Occasion,
    Project,
    Prompt,
)
from bot.testing import Chatter

ENQUIRY = [
    "librarian Does early mobilisation after hip fracture surgery shorten length of stay?",
    "skip",  # PICO
    "audit or quality improvement",
    "2027-01-20",
    "no",
    "1",
    "last 10 years",
    "skip",  # known papers
    "skip",  # languages
    "Physiotherapist",
    "Trauma and orthopaedics",
    "Example NHS Foundation Trust",
]
URGENT = [
    "librarian Is tranexamic acid safe for a patient on the ward with a history of DVT?",
    "skip",
    "patient care",
    "2026-11-25",
    "yes",
    "2",
    "skip",
    "skip",
    "skip",
    "Ward sister",
    "Elderly care",
    "Example NHS Foundation Trust",
]


async def ask(person: Chatter, lines: list[str]) -> str:
    """A person asks the library team a question in chat, line by line (the console way)."""
    out = ""
    for line in lines:
        out = await person.says(line)
    return out


async def seed(engine: Engine) -> dict[str, Chatter]:
    """Ann (member) and Sam (admin and librarian, who leads a project) with something to see."""

    ann = Chatter(engine, "ann")
    sam = Chatter(engine, "sam").grant("admin").grant("librarian")
    await ask(ann, ENQUIRY)
    await ask(ann, URGENT)
    await ask(ann, [ENQUIRY[0].replace("hip fracture", "knee replacement"), *ENQUIRY[1:]])
    await sam.says("claim ENQ-2026-0003")
    await sam.says("note ENQ-2026-0003 Searched Medline and CINAHL")
    await sam.says("close ENQ-2026-0003 Evidence summary sent by email")
    await ann.says("feedback ENQ-2026-0003")
    await ann.says("5")
    await ann.says("We changed the ward's mobilisation protocol")
    now = engine.store.now()
    ann_id, sam_id = engine.person(ann.ref).id, engine.person(sam.ref).id
    assert ann_id is not None and sam_id is not None
    with engine.store.session() as s:
        p = Project(
            name="Discharge to assess pilot",
            lead_id=sam_id,
            start_date=dt.date(2026, 10, 1),
            end_date=dt.date(2026, 11, 20),
            template="aar",
            created_at=now,
        )
        s.add(p)
        s.flush()
        assert p.id is not None
        for person in (ann_id, sam_id):
            s.add(Membership(project_id=p.id, person_id=person))
        o = Occasion(
            project_id=p.id,
            template="aar",
            opens_at=now - dt.timedelta(days=3),
            closes_at=now + dt.timedelta(days=2),
            status="open",
            slot="after",
        )
        s.add(o)
        s.flush()
        assert o.id is not None
        done = Prompt(occasion_id=o.id, person_id=ann_id, status="done", share=True)
        s.add(done)
        s.add(Prompt(occasion_id=o.id, person_id=sam_id, status="pending"))
        s.flush()
        answer = Answer(
            occasion_id=o.id,
            prompt_id=done.id,
            question_id="planned",
            text="Patients home within 48 hours of being medically fit.",
            updated_at=now,
        )
        s.add(answer)
        s.flush()
        s.add(
            Lesson(
                answer_id=answer.id,
                author_id=ann_id,
                project_name=p.name,
                question="What was supposed to happen?",
                text="Agree the discharge date with social care on the day of admission.",
                created_at=now,
            )
        )
        run = CampaignRun(
            slug="knowvember",
            platform="slack",
            channel_id="C0KNOW",
            started_by=sam_id,
            created_at=now - dt.timedelta(days=20),
        )
        s.add(run)
        s.flush()
        assert run.id is not None
        s.add(
            CampaignAnswer(
                run_id=run.id,
                person_id=ann_id,
                day=1,
                text="I'd ask the ward pharmacist first.",
                created_at=now,
            )
        )
    return {"ann": ann, "sam": sam}
