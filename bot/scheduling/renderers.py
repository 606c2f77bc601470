"""What the planner says, supplied by the features that own the words.

Scheduling decides *when* (open, invite, remind, close, the campaign day); the features decide
*what* is said. Scheduling never imports a feature: a feature's `register(engine)` hands its
renderers to `register` here, as it registers its chores with `engine.every`, and the planner
asks `of(engine)` when a step is due.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlmodel import Session

from bot.messages import Reply
from bot.store.models import Occasion, Project, Prompt

if TYPE_CHECKING:
    from bot.engine import Engine

Invitation = Callable[["Engine", Session, Prompt, Occasion, Project], Reply]
"""The direct message asking one person for one occasion's answers (also the reminder's shape)."""
Digest = Callable[["Engine", int, Session], Reply]
"""The digest of one closed occasion (by id), read in the closing step's session."""
DuePosts = Callable[["Engine"], int]
"""Queue what is due today outside the occasions (campaign days); how many were queued."""


@dataclass
class Renderers:
    """One engine's renderers; each is None until a feature registers it."""

    invitation: Invitation | None = None
    reminder: Invitation | None = None
    digest: Digest | None = None
    due_posts: DuePosts | None = None

    def invite(self, engine: Engine, s: Session, prompt: Prompt, o: Occasion, p: Project) -> Reply:
        """The invitation for one prompt."""
        if self.invitation is None:
            raise LookupError("no feature registered the planner's invitation")
        return self.invitation(engine, s, prompt, o, p)

    def remind(self, engine: Engine, s: Session, prompt: Prompt, o: Occasion, p: Project) -> Reply:
        """The reminder for one prompt whose person has not answered."""
        if self.reminder is None:
            raise LookupError("no feature registered the planner's reminder")
        return self.reminder(engine, s, prompt, o, p)

    def digest_of(self, engine: Engine, occasion_id: int, s: Session) -> Reply:
        """The digest of one occasion."""
        if self.digest is None:
            raise LookupError("no feature registered the planner's digest")
        return self.digest(engine, occasion_id, s)

    def post_due(self, engine: Engine) -> int:
        """The day's posts outside occasions (none if no feature registered them)."""
        return self.due_posts(engine) if self.due_posts is not None else 0


# Per engine, without a field on it: a test process builds many engines.
_BY_ENGINE: weakref.WeakKeyDictionary[Engine, Renderers] = weakref.WeakKeyDictionary()


def of(engine: Engine) -> Renderers:
    """The renderers registered for `engine` (empty ones if none yet)."""
    found = _BY_ENGINE.get(engine)
    if found is None:
        found = _BY_ENGINE[engine] = Renderers()
    return found


def register(
    engine: Engine,
    invitation: Invitation | None = None,
    reminder: Invitation | None = None,
    digest: Digest | None = None,
    due_posts: DuePosts | None = None,
) -> None:
    """Register a feature's renderers for `engine` (those given replace earlier ones)."""
    renderers = of(engine)
    renderers.invitation = invitation or renderers.invitation
    renderers.reminder = reminder or renderers.reminder
    renderers.digest = digest or renderers.digest
    renderers.due_posts = due_posts or renderers.due_posts
