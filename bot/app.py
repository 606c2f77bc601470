"""Building kmb from settings: the store, the content and the engine."""

from __future__ import annotations

from pathlib import Path

from bot.clock import Clock, SystemClock
from bot.config import Settings
from bot.content import ContentError, load_catalogue
from bot.engine import Engine
from bot.preflight import (
    DATABASE_ERRORS,
    check_sqlite,
    check_timezone,
    content_problem,
    database_problem,
)
from bot.store import Store


def build(
    settings: Settings | None = None, clock: Clock | None = None, upgrade: bool = True
) -> Engine:
    """An engine on the configured database (upgraded to the newest schema).

    A database or content problem raises `SetupError`, whose message says what to fix.
    """
    settings = settings or Settings()
    clock = clock or SystemClock()
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
    return Engine(store, catalogue, clock, settings)
