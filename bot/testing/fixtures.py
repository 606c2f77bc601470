"""pytest fixtures shipped with kmb: an engine on a fresh database with a fake clock."""

from __future__ import annotations

import datetime as dt
import os
import socket
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.clock import FakeClock
from bot.config import Settings
from bot.content import load_catalogue
from bot.engine import Engine
from bot.features import register_all
from bot.platforms import Capabilities
from bot.store import Store
from bot.testing import Chatter

START = dt.datetime(2026, 11, 23, 9, 30, tzinfo=dt.UTC)  # a Monday morning
PG_ENV = "KMB_TEST_POSTGRES_URL"
_real_connect = socket.socket.connect


def _loopback_only(self: socket.socket, address: Any) -> Any:
    if self.family in (socket.AF_INET, socket.AF_INET6):
        host = address[0]
        if host not in ("127.0.0.1", "::1", "localhost") and not str(host).startswith("127."):
            raise RuntimeError(f"tests may only connect to loopback, not {host!r}")
    return _real_connect(self, address)


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any connection that is not to loopback."""
    monkeypatch.setattr(socket.socket, "connect", _loopback_only)


def _postgres_url() -> str | None:
    url = os.environ.get(PG_ENV)
    if not url and os.environ.get("KMB_REQUIRE_POSTGRES"):
        raise RuntimeError(f"KMB_REQUIRE_POSTGRES is set but {PG_ENV} is not")
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database: SQLite in a temporary folder, and PostgreSQL when available."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'kmb.db'}"
        return
    admin = _postgres_url()
    if not admin:
        pytest.skip(f"no PostgreSQL: set {PG_ENV} (.ci/run starts a throwaway cluster)")
    import psycopg

    name = "kmb_" + uuid.uuid4().hex[:12]
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = admin.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A fresh SQLite database file."""
    return f"sqlite:///{tmp_path / 'kmb.db'}"


@pytest.fixture
def clock() -> FakeClock:
    """A fake clock starting on a Monday morning in late November 2026."""
    return FakeClock(START)


@pytest.fixture(scope="session")
def catalogue() -> Any:
    """The shipped content, loaded once."""
    return load_catalogue()


@pytest.fixture
def platforms() -> dict[str, Capabilities]:
    """The platforms engines built here have declared, as their adapters would at mount (the
    console is always declared). A project's conftest overrides it to add its platforms."""
    return {}


@pytest.fixture
def make_engine(
    catalogue: Any, clock: FakeClock, platforms: dict[str, Capabilities]
) -> Iterator[Callable[[str], Engine]]:
    """Build an engine with every feature on a database URL (call it again to simulate a
    restart), its platforms declared."""
    engines: list[Engine] = []

    def _make(url: str) -> Engine:
        store = Store(url, clock)
        store.upgrade()
        engine = Engine(store, catalogue, clock, Settings(database_url=url))
        register_all(engine)
        for name, capabilities in platforms.items():
            engine.platforms.declare(name, capabilities)
        engines.append(engine)
        return engine

    yield _make
    for e in engines:
        e.store.engine.dispose()


@pytest.fixture
def engine(make_engine: Callable[[str], Engine], sqlite_url: str) -> Engine:
    """An engine on a fresh SQLite database."""
    return make_engine(sqlite_url)


@pytest.fixture
def chat(engine: Engine) -> Callable[..., Chatter]:
    """`chat("ann", role="lead")` → a person talking to kmb through the test adapter."""

    def _chat(user: str, role: str | None = None, platform: str = "console") -> Chatter:
        c = Chatter(engine, user, platform)
        return c.grant(role) if role else c

    return _chat
