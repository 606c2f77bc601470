"""Set-up problems as one line an operator can act on, instead of a Python traceback.

`kmb` turns a database it can't open, content that doesn't load or a port it can't listen on
into a `SetupError` whose message names what to fix; the command line prints it and exits 1.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError, SQLAlchemyError

EXAMPLES = "use one like sqlite:///kmb.db or postgresql://kmb@db.example.nhs.uk/kmb"


class SetupError(Exception):
    """Something in kmb's set-up is wrong; the message is one line saying what to fix."""


def shown(url: str) -> str:
    """A database URL fit to print: the password hidden, a SQLite path made absolute."""
    path = sqlite_path(url)
    if path is not None:
        return f"sqlite:///{path}"
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url[:80]


def sqlite_path(url: str) -> Path | None:
    """The absolute file of a SQLite URL (None: not SQLite, or in memory)."""
    if not url.startswith("sqlite"):
        return None
    try:
        database = make_url(url).database
    except ArgumentError:
        return None
    if not database or database == ":memory:":
        return None
    return Path(database).expanduser().resolve()


def check_sqlite(url: str) -> None:
    """Refuse a SQLite file kmb could not create or write, before SQLAlchemy tries."""
    path = sqlite_path(url)
    if path is None:
        if url.startswith("sqlite:"):
            raise SetupError(
                f"DATABASE_URL names an in-memory SQLite database ({url[:40]}), which each of "
                f"kmb's connections would see empty and which is lost when it stops: give a "
                f"file ({EXAMPLES})."
            )
        return
    folder = path.parent
    if folder.exists() and not folder.is_dir():
        raise SetupError(f"{folder} is a file, not a folder: fix the path in DATABASE_URL.")
    if not folder.is_dir():
        raise SetupError(
            f"the database folder {folder} does not exist: create it, or point DATABASE_URL "
            f"at a folder that does ({EXAMPLES})."
        )
    target = path if path.exists() else folder
    if not os.access(target, os.W_OK):
        raise SetupError(
            f"can't write to {target}: give this user write access to it, or point "
            f"DATABASE_URL at a writable place ({EXAMPLES})."
        )


def database_problem(url: str, exc: BaseException) -> SetupError:
    """What a failure to open or upgrade the database means, in one line."""
    if isinstance(exc, ArgumentError | ValueError):  # ValueError: e.g. a port that isn't one
        return SetupError(f"DATABASE_URL is not a database URL ({url[:60]!r}): {EXAMPLES}.")
    if isinstance(exc, NoSuchModuleError | ModuleNotFoundError):
        scheme = url.split(":", 1)[0]
        return SetupError(
            f"DATABASE_URL names a database kmb does not support ({scheme}): kmb runs on "
            f"SQLite or PostgreSQL, {EXAMPLES}."
        )
    detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    reason = detail[0][:200] if detail else type(exc).__name__
    if isinstance(exc, OperationalError) and sqlite_path(url) is not None:
        return SetupError(
            f"can't open the SQLite database {sqlite_path(url)} ({reason}): check "
            "DATABASE_URL and that the file and its folder are writable."
        )
    if isinstance(exc, OperationalError):
        return SetupError(
            f"can't reach the database {shown(url)} ({reason}): check DATABASE_URL, "
            "that the server is running and that this machine may connect to it."
        )
    return SetupError(f"the database {shown(url)} failed: {reason}")


DATABASE_ERRORS = (SQLAlchemyError, ModuleNotFoundError, ValueError)


def settings_problem(exc: Exception) -> SetupError:
    """An environment variable (or `.env` line) whose value can't be used, in one line."""
    errors = getattr(exc, "errors", None)
    first = errors()[0] if callable(errors) and errors() else {}
    name = str((first.get("loc") or ("a setting",))[0]).upper()
    value = str(first.get("input", ""))[:40]
    why = str(first.get("msg", exc)).split(",")[0]
    return SetupError(
        f"{name}={value!r} can't be used ({why}): fix it in the environment or .env."
    )


def check_timezone(name: str) -> None:
    """Refuse a default timezone that isn't an IANA name, before anyone is scheduled with it."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise SetupError(
            f"KMB_TIMEZONE={name!r} is not a timezone: use an IANA name such as Europe/London."
        ) from exc


def listen_problem(host: str, port: int, exc: OSError) -> SetupError:
    """Why kmb can't listen on an address, in one line."""
    if exc.errno == errno.EADDRINUSE:
        return SetupError(
            f"port {port} on {host} is already in use (is kmb already running?): stop the "
            "other process, or choose another port with PORT or --port."
        )
    if exc.errno == errno.EACCES:
        return SetupError(
            f"this user may not listen on port {port}: use a port above 1023 (PORT or --port) "
            "behind your reverse proxy."
        )
    return SetupError(
        f"can't listen on {host}:{port} ({exc.strerror or exc}): set HOST to an address "
        "of this machine, e.g. 127.0.0.1."
    )


def content_problem(
    folder: str, problems: list[str], lines: dict[str, int] | None = None
) -> SetupError:
    """Content that doesn't load, as one line: how many problems and the first (with its line)."""
    where = folder or "the shipped content folder"
    lines = lines or {}
    first = next((p for p in problems if p in lines), problems[0])  # one with a line, if any
    at = lines.get(first)
    located = f"{first} (line {at})" if at else first
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return SetupError(
        f"the content in {where} does not load: {located}{more}. "
        "Run `kmb content check` to see every problem."
    )


def describe(url: str, fresh: bool) -> str:
    """Which database this process uses, so one started elsewhere is noticed."""
    note = " (new and empty: created just now)" if fresh else ""
    return f"kmb database: {shown(url)}{note}"
