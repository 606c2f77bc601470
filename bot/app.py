"""Building kmb from settings: the store, the content and the engine."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

from bot.clock import Clock, FakeClock, SystemClock
from bot.config import Settings
from bot.content import load_catalogue
from bot.engine import Engine
from bot.store import Store

log = logging.getLogger(__name__)


def build(
    settings: Settings | None = None, clock: Clock | None = None, upgrade: bool = True
) -> Engine:
    """An engine on the configured database (upgraded to the newest schema)."""
    settings = settings or Settings()
    clock = clock or clock_of(settings)
    store = Store(settings.database_url, clock)
    if upgrade:
        store.upgrade()
    content_dir = Path(settings.kmb_content_dir) if settings.kmb_content_dir else None
    return Engine(store, load_catalogue(content_dir), clock, settings)


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
