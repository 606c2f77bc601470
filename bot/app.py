"""Building kmb from settings: the store, the content and the engine."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

from bot.clock import Clock, FakeClock, SystemClock
from bot.config import Settings
from bot.content import ContentError, load_catalogue
from bot.engine import Engine
from bot.features import register_all
from bot.preflight import (
    DATABASE_ERRORS,
    SetupError,
    check_sqlite,
    check_timezone,
    content_problem,
    database_problem,
)
from bot.store import Store

log = logging.getLogger(__name__)


def build(
    settings: Settings | None = None, clock: Clock | None = None, upgrade: bool = True
) -> Engine:
    """An engine on the configured database (upgraded to the newest schema).

    A database or content problem raises `SetupError`, whose message says what to fix.
    """
    settings = settings or Settings()
    try:
        clock = clock or clock_of(settings)
    except ValueError as exc:
        raise SetupError(str(exc)) from exc
    url = settings.database_url
    content_dir = Path(settings.kmb_content_dir) if settings.kmb_content_dir else None
    try:  # content first: it needs no database, and its problems are the operator's to fix
        catalogue = load_catalogue(content_dir)
    except ContentError as exc:
        raise content_problem(settings.kmb_content_dir, exc.problems, exc.lines) from exc
    check_timezone(settings.kmb_timezone)
    check_sqlite(url)
    try:
        store = Store(url, clock)
        if upgrade:
            store.upgrade()
    except DATABASE_ERRORS as exc:
        raise database_problem(url, exc) from exc
    engine = Engine(store, catalogue, clock, settings)
    register_all(engine)  # the composition: which features this kmb has
    return engine


def clock_of(settings: Settings) -> Clock:
    """The system clock, or a clock pinned at `KMB_FAKE_NOW` (tests only, and it says so)."""
    if not settings.kmb_fake_now:
        return SystemClock()
    try:
        pinned = dt.datetime.fromisoformat(settings.kmb_fake_now)
    except ValueError as exc:
        raise ValueError(f"KMB_FAKE_NOW is not an ISO 8601 time: {settings.kmb_fake_now}") from exc
    if pinned.tzinfo is None:
        raise ValueError(f"KMB_FAKE_NOW needs a UTC offset: {settings.kmb_fake_now}")
    log.warning("KMB_FAKE_NOW is set: the clock stands still at %s (for tests only)", pinned)
    return FakeClock(pinned.astimezone(dt.UTC))
