"""Building kmb from settings: the store, the content and the engine."""

from __future__ import annotations

from pathlib import Path

from bot.clock import Clock, SystemClock
from bot.config import Settings
from bot.content import load_catalogue
from bot.engine import Engine
from bot.store import Store


def build(
    settings: Settings | None = None, clock: Clock | None = None, upgrade: bool = True
) -> Engine:
    """An engine on the configured database (upgraded to the newest schema)."""
    settings = settings or Settings()
    clock = clock or SystemClock()
    store = Store(settings.database_url, clock)
    if upgrade:
        store.upgrade()
    content_dir = Path(settings.kmb_content_dir) if settings.kmb_content_dir else None
    return Engine(store, load_catalogue(content_dir), clock, settings)
