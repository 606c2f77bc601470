"""Storage: SQLModel tables over SQLite (default) or PostgreSQL, behind a small interface."""

from bot.store.db import Store

__all__ = ["Store"]
