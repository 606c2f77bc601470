"""What the desk's project, lesson and campaign pages show, read from the store (the enquiry
pages' queries are in `queries`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import or_
from sqlmodel import col, select

from bot.desk.queries import person_name
from bot.features.projects.manage import plan_lines
from bot.features.retros.digests import digest_data
from bot.search import Index, SynonymMap
from bot.store.models import (
    CampaignAnswer,
    CampaignRun,
    Lesson,
    Membership,
    Occasion,
    Person,
    Project,
)

if TYPE_CHECKING:
    from bot.engine import Engine

PLATFORMS = {"slack": "Slack", "teams": "Microsoft Teams", "console": "console"}


def projects(engine: Engine, person_id: int, admin: bool) -> list[tuple[Project, bool]]:
    """(project, led by this person): those a person leads or belongs to (admins: all)."""
    with engine.store.session() as s:
        q = select(Project)
        if not admin:
            mine = select(Membership.project_id).where(Membership.person_id == person_id)
            q = q.where(or_(col(Project.lead_id) == person_id, col(Project.id).in_(mine)))
        found = s.exec(q.order_by(col(Project.id).desc()).limit(200)).all()
    return [(p, p.lead_id == person_id) for p in found]


def project(engine: Engine, project_id: int, person_id: int, admin: bool) -> dict[str, Any] | None:
    """A project's plan, and (for its lead or an admin) participation and digests."""
    with engine.store.session() as s:
        p = s.get(Project, project_id)
        if p is None:
            return None
        member = (
            s.exec(
                select(Membership).where(
                    Membership.project_id == p.id, Membership.person_id == person_id
                )
            ).first()
            is not None
        )
        leads = admin or p.lead_id == person_id
        if not (leads or member):
            return None
        lead = person_name(s, p.lead_id) if p.lead_id else "—"
        team = s.exec(
            select(Person.display_name)
            .join(Membership, col(Membership.person_id) == Person.id)
            .where(Membership.project_id == p.id)
            .order_by(col(Person.display_name))
        ).all()
        plan = plan_lines(engine, s, p)
        digests = []
        if leads:
            occasions = s.exec(
                select(Occasion.id)
                .where(Occasion.project_id == p.id, col(Occasion.status).in_(["open", "closed"]))
                .order_by(col(Occasion.opens_at))
            ).all()
            digests = [digest_data(engine, s, oid) for oid in occasions if oid is not None]
    return {
        "project": p,
        "lead": lead,
        "team": list(team),
        "plan": plan,
        "leads": leads,
        "digests": digests,
    }


def lessons(engine: Engine, words: str, limit: int = 20) -> list[Lesson]:
    """Shared lessons best matching the words (newest first with no words)."""
    with engine.store.session() as s:
        found = s.exec(select(Lesson).order_by(col(Lesson.id).desc()).limit(5000)).all()
    if not words.strip():
        return list(found[:limit])
    index = Index(
        {
            str(x.id): {"text": x.text, "question": x.question, "project": x.project_name}
            for x in found
        },
        {"text": 1.0, "question": 0.3, "project": 1.5},
        SynonymMap(engine.catalogue.synonyms),
    )
    by_id = {str(x.id): x for x in found}
    return [by_id[h.doc_id] for h in index.search(words[:500], limit=limit)]


def campaign_results(engine: Engine) -> list[dict[str, Any]]:
    """Each campaign run: where, how many answered, and the answers by day (no names)."""
    out = []
    with engine.store.session() as s:
        runs = s.exec(select(CampaignRun).order_by(col(CampaignRun.id).desc())).all()
        for run in runs:
            answers = s.exec(
                select(CampaignAnswer)
                .where(CampaignAnswer.run_id == run.id)
                .order_by(col(CampaignAnswer.day), col(CampaignAnswer.id))
            ).all()
            campaign = engine.catalogue.campaigns.get(run.slug)
            titles = {p.day: p.title for p in campaign.prompts} if campaign else {}
            days: dict[int, list[str]] = {}
            for a in answers:
                days.setdefault(a.day, []).append(a.text)
            out.append(
                {
                    "name": campaign.name if campaign else run.slug,
                    "where": f"{PLATFORMS.get(run.platform, run.platform)} channel",
                    "active": run.active,
                    "started": run.created_at,
                    "answers": len(answers),
                    "people": len({a.person_id for a in answers if a.person_id}),
                    "days": [(d, titles.get(d, f"Day {d}"), days[d]) for d in sorted(days)],
                }
            )
    return out
