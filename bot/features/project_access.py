"""Finding a project a person may see, and telling them when they may not."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlmodel import Session, col, select

from bot.messages import Reply, say
from bot.store.models import Membership, Occasion, Project
from bot.turn import Turn

if TYPE_CHECKING:
    from bot.engine import Engine


def find_project(s: Session, turn: Turn, ref: str) -> Project | None:
    """The project `ref` names: `#id`, an id, or a name (the newest of that name)."""
    ref = ref.strip().lstrip("#")
    if not ref:
        return None
    if ref.isdigit():
        return s.get(Project, int(ref))
    return s.exec(
        select(Project).where(col(Project.name).ilike(ref)).order_by(col(Project.id).desc())
    ).first()


def may_see(s: Session, turn: Turn, p: Project) -> bool:
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


def visible_project(s: Session, turn: Turn, ref: str) -> Project | None:
    """The project `ref` names (#id or name), if the caller may see it."""
    p = find_project(s, turn, ref)
    return p if p is not None and may_see(s, turn, p) else None


def unknown_project(ref: str) -> Reply:
    """The answer when no project `ref` names is one the caller may see."""
    return say(
        f"I can't find a project “{ref.strip()[:60]}” that you're in. "
        "Type `projects` to see yours."
    )


def leads(turn: Turn, p: Project) -> bool:
    """The caller leads the project (or is an admin)."""
    return p.lead_id == turn.person_id or turn.has("admin")


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
