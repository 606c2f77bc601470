"""Finding the project a person names, if they may see it (or lead it), and its latest retro."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlmodel import Session, col, select

from bot.messages import Reply, say
from bot.store.models import Membership, Occasion, Project
from bot.turn import Turn

if TYPE_CHECKING:
    from bot.engine import Engine


def _named(s: Session, ref: str) -> Project | None:
    """The project `ref` names: `#id`, an id, or a name (the newest of that name)."""
    ref = ref.strip().lstrip("#")
    if not ref:
        return None
    if ref.isdigit():
        return s.get(Project, int(ref))
    return s.exec(
        select(Project).where(col(Project.name).ilike(ref)).order_by(col(Project.id).desc())
    ).first()


def _may_see(s: Session, turn: Turn, p: Project) -> bool:
    """Its lead, its members and admins may see a project."""
    if turn.has("admin") or p.lead_id == turn.person_id:
        return True
    return (
        s.exec(
            select(Membership).where(
                Membership.project_id == p.id, Membership.person_id == turn.person_id
            )
        ).first()
        is not None
    )


def find_project(s: Session, turn: Turn, ref: str, lead_only: str = "") -> Project | Reply:
    """The project `ref` names if the caller may see it (and, given `lead_only`, leads it).

    Otherwise the reply to give: that no such project of theirs exists, or `lead_only` with
    `{name}` filled in (e.g. "Only the lead of {name} can change its dates."). Admins may do
    what a lead may.
    """
    p = _named(s, ref)
    if p is None or not _may_see(s, turn, p):
        return say(
            f"I can't find a project “{ref.strip()[:60]}” that you're in. "
            "Type `projects` to see yours."
        )
    if lead_only and p.lead_id != turn.person_id and not turn.has("admin"):
        return say(lead_only.format(name=p.name))
    return p


def template_name(engine: Engine, slug: str) -> str:
    """A template's display name (its slug if it is no longer in the catalogue)."""
    tpl = engine.catalogue.templates.get(slug)
    return tpl.name if tpl else slug


def latest_occasion(s: Session, p: Project) -> Occasion | None:
    """The project's most recent retro that has opened."""
    return s.exec(
        select(Occasion)
        .where(Occasion.project_id == p.id, col(Occasion.status).in_(["open", "closed"]))
        .order_by(col(Occasion.opens_at).desc(), col(Occasion.id).desc())
    ).first()
