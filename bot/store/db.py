"""The database: engine set-up, sessions, migrations and a few shared operations."""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, bindparam, event, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, create_engine, select

from bot.clock import Clock
from bot.pii import redact
from bot.store.models import AuditEntry, Person, Setting

log = logging.getLogger(__name__)
AFTER_COMMIT = "kmb.after_commit"
MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def make_engine(url: str) -> Engine:
    """A SQLAlchemy engine; SQLite gets WAL, a busy timeout and foreign keys."""
    if url.startswith("postgres://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgres://")
    elif url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 10})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            if ":memory:" not in url:
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA synchronous=NORMAL")  # WAL: durable across crashes
            cur.execute("PRAGMA busy_timeout=10000")
            cur.execute("PRAGMA foreign_keys=ON")
            # Deleted rows are overwritten with zeros, so erased text leaves the file itself
            cur.execute("PRAGMA secure_delete=ON")
            cur.close()

        return engine
    # An unreachable server fails in seconds with a reason, instead of hanging start-up.
    args = {"connect_timeout": 10} if url.startswith("postgresql") else {}
    return create_engine(url, pool_pre_ping=True, connect_args=args)


def insert_ignoring(engine: Engine, model: Any) -> Any:
    """INSERT … ON CONFLICT DO NOTHING for this database's dialect."""
    if engine.dialect.name == "postgresql":
        return pg_insert(model).on_conflict_do_nothing()
    return sqlite_insert(model).on_conflict_do_nothing()


# Built once: the lookup every turn makes.
_PERSON = select(Person).where(
    Person.platform == bindparam("platform"), Person.external_id == bindparam("external_id")
)


class Store:
    """The database behind the engine: sessions plus the operations every feature shares."""

    def __init__(self, url: str, clock: Clock) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.clock = clock
        # The unit of work open on this thread (or task), if any: see `unit`.
        self._unit: ContextVar[Session | None] = ContextVar(f"kmb_unit_{id(self)}", default=None)
        # SQLite has one writer at a time; kmb's own busy writers (turns, the inbox, the outbox)
        # queue on this lock instead of on SQLite's busy handler, which sleeps in steps of up
        # to 100 ms and so made acknowledgements wait far longer than the write they waited on.
        self._writer = threading.RLock() if url.startswith("sqlite") else None

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Hold this process's SQLite write turn (nothing to hold on PostgreSQL)."""
        if self._writer is None:
            yield
            return
        with self._writer:
            yield

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session committed on success and rolled back on error.

        Inside a `unit` it is the unit's session: what is done here commits (or not) with the
        rest of the turn. It is flushed on the way out, so new rows have their ids.
        """
        joined = self._unit.get()
        if joined is not None:
            yield joined
            joined.flush()
            return
        with Session(self.engine, expire_on_commit=False) as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    @contextmanager
    def unit(self) -> Iterator[Session]:
        """One transaction for a whole turn: every `session()` opened inside joins it.

        A turn's effects, its outbox rows and its inbox row's done marker commit together or
        not at all; an exception anywhere rolls all of it back. Units do not nest: a unit
        opened inside another joins it.
        """
        if self._unit.get() is not None:
            with self.session() as joined:
                yield joined
            return
        after: list[Callable[[], object]] = []
        with self.writing(), Session(self.engine, expire_on_commit=False) as session:
            session.info[AFTER_COMMIT] = after
            token = self._unit.set(session)
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise
            finally:
                self._unit.reset(token)
        for run in after:  # work that must not hold the turn's write (e.g. a WAL checkpoint)
            run()

    def after_commit(self, run: Callable[[], object]) -> None:
        """Run `run` once the open unit of work has committed (at once when there is none)."""
        unit = self._unit.get()
        if unit is None:
            run()
        else:
            unit.info[AFTER_COMMIT].append(run)

    @property
    def in_unit(self) -> bool:
        """True while a unit of work is open here."""
        return self._unit.get() is not None

    def upgrade(self) -> None:
        """Create or upgrade the schema to the newest migration."""
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        with self.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")

    def ping(self) -> bool:
        """True when the database answers."""
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return True
        except Exception:
            return False

    def now(self) -> dt.datetime:
        """The clock's time (aware UTC; stored as UTC)."""
        return self.clock.now()

    # --- people -------------------------------------------------------------------------

    def person(
        self, session: Session, platform: str, external_id: str, display_name: str = ""
    ) -> Person:
        """Find a person, creating them on first contact."""
        display_name = redact(display_name)  # as stored, so an unchanged name is not rewritten
        person = session.exec(
            _PERSON, params={"platform": platform, "external_id": external_id}
        ).first()
        if person is None:
            # Two first messages at once must make one person: insert unless present (no
            # savepoint: with pysqlite one released before any write would commit early).
            session.execute(
                insert_ignoring(self.engine, Person).values(
                    platform=platform,
                    external_id=external_id,
                    display_name=display_name or external_id,
                    nation="england",
                    roles="member",
                    reachable=True,
                    profile={},
                    created_at=self.now(),
                )
            )
            person = session.exec(
                select(Person).where(
                    Person.platform == platform, Person.external_id == external_id
                )
            ).one()
        elif display_name and person.display_name != display_name:
            person.display_name = display_name
        return person

    def grant(
        self, platform: str, external_id: str, role: str, actor_id: int | None = None
    ) -> Person:
        """Give a person a role (creating the person if needed)."""
        with self.session() as s:
            person = self.person(s, platform, external_id)
            roles = set(person.roles.split(","))
            roles.add(role)
            person.roles = ",".join(sorted(r for r in roles if r))
            self.audit(s, actor_id, "role.grant", {"role": role}, subject_id=person.id)
            return person

    def revoke(
        self, platform: str, external_id: str, role: str, actor_id: int | None = None
    ) -> Person | None:
        """Take a role away; None when there is no such person or they do not hold it."""
        with self.session() as s:
            person = s.exec(
                _PERSON, params={"platform": platform, "external_id": external_id}
            ).first()
            roles = set(person.roles.split(",")) if person else set()
            if person is None or role not in roles:
                return None
            roles.discard(role)
            person.roles = ",".join(sorted(r for r in roles | {"member"} if r))
            self.audit(s, actor_id, "role.revoke", {"role": role}, subject_id=person.id)
            return person

    # --- events, settings, audit ----------------------------------------------------------

    def get_setting(self, key: str) -> dict[str, Any] | None:
        """A setting's value, or None."""
        with self.session() as s:
            row = s.get(Setting, key)
            return dict(row.value) if row else None

    def set_setting(self, session: Session, key: str, value: dict[str, Any]) -> None:
        """Set a setting inside the caller's transaction."""
        row = session.get(Setting, key)
        if row is None:
            session.add(Setting(key=key, value=value))
        else:
            row.value = value

    def audit(
        self,
        session: Session,
        actor_id: int | None,
        action: str,
        detail: dict[str, Any],
        subject_id: int | None = None,
    ) -> None:
        """Append to the audit log inside the caller's transaction (`subject_id`: about whom)."""
        session.add(
            AuditEntry(
                at=self.now(),
                actor_id=actor_id,
                action=action,
                detail=detail,
                subject_id=subject_id,
            )
        )

    def scrub_files(self) -> bool:
        """Push erased rows out of SQLite's write-ahead log into the (zeroed) main file.

        With `secure_delete` on, a deleted row's bytes are zeroed in its page; the checkpoint
        copies those pages into the database file and truncates the `-wal` file, which would
        otherwise keep the earlier page images until the next checkpoint. PostgreSQL keeps
        dead tuples until autovacuum reclaims them; its files are not readable by users.
        False when readers kept the checkpoint from finishing (SQLite's own comes later).
        """
        if self.engine.dialect.name != "sqlite" or ":memory:" in self.url:
            return True
        if self.in_unit:  # the turn's own transaction holds the write: checkpoint after it
            self.after_commit(self.scrub_files)
            return True
        with self.engine.connect() as conn:
            for _ in range(20):  # busy while another connection reads: try again shortly
                busy = conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").first()
                if busy is None or not busy[0]:
                    return True
                time.sleep(0.05)
        log.warning(
            "readers kept the WAL checkpoint from finishing: erased rows stay in the -wal "
            "file until SQLite's next checkpoint"
        )
        return False
