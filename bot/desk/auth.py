"""Signing in to the desk without passwords: one-time links sent in chat, and sessions.

A link is a random token shown once in chat; only its SHA-256 is stored, so a copy of the
database signs no one in. Redeeming it (once, within `LINK_TTL`, by anyone holding it — the chat
conversation it was sent to is what binds it to its person) starts a session whose token lives in
an HttpOnly cookie and, again, only as a hash in the database. A session ends after `IDLE` without
a request, after `MAX_AGE` however busy, or when its person signs out everywhere.

Identity comes through `IdentityProvider`: today the chat link; single sign-on with the trust's
Microsoft Entra ID (OpenID Connect) is another implementation that ends in `start_session` too.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import secrets
import weakref
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from sqlmodel import col, delete, select

from bot.store.models import DeskLink, DeskSession, Person

if TYPE_CHECKING:
    from bot.engine import Engine

log = logging.getLogger(__name__)
LINK_TTL = dt.timedelta(minutes=10)
IDLE = dt.timedelta(minutes=30)
MAX_AGE = dt.timedelta(hours=12)
TOUCH_EVERY = dt.timedelta(minutes=1)  # write last_seen_at at most this often
# Where `kmb serve` actually listens, per engine, for links when KMB_PUBLIC_URL is not set.
LISTENING: weakref.WeakKeyDictionary[Engine, str] = weakref.WeakKeyDictionary()


def listening(engine: Engine, url: str) -> None:
    """Where `kmb serve` listens: the base of desk links while KMB_PUBLIC_URL is unset."""
    LISTENING[engine] = url
    if not engine.settings.kmb_public_url and ("//0.0.0.0:" in url or "//[::]:" in url):
        log.warning(
            "desk links would point at %s, which no browser can open: set KMB_PUBLIC_URL to "
            "the address people reach kmb at",
            url,
        )


def digest(token: str) -> str:
    """The stored form of a token."""
    return hashlib.sha256(token.encode()).hexdigest()


def public_url(engine: Engine) -> str:
    """The base address people reach kmb at (no trailing slash)."""
    s = engine.settings
    base = s.kmb_public_url or LISTENING.get(engine) or f"http://{s.host}:{s.port}"
    return base.rstrip("/")


def secure_cookies(engine: Engine) -> bool:
    """Cookies are `Secure` when people reach kmb over https."""
    return public_url(engine).startswith("https://")


def issue_link(engine: Engine, person_id: int) -> str:
    """A new one-time sign-in link for a person (only its hash is stored)."""
    token = secrets.token_urlsafe(32)
    now = engine.store.now()
    with engine.store.session() as s:
        # Expired links are of no use to anyone: clear them out as new ones are made.
        s.exec(delete(DeskLink).where(col(DeskLink.expires_at) < now - LINK_TTL))
        s.add(
            DeskLink(
                token_hash=digest(token),
                person_id=person_id,
                created_at=now,
                expires_at=now + LINK_TTL,
            )
        )
        engine.store.audit(s, person_id, "desk.link", {})
    return f"{public_url(engine)}/desk/sign-in?token={token}"


@dataclass(frozen=True)
class Identity:
    """Who an identity provider says is signing in: a stored person."""

    person_id: int
    via: str  # "chat-link", later "entra-id"


class IdentityProvider(Protocol):
    """Something that turns proof of identity into a person (chat link today; OIDC later)."""

    name: str

    def identify(
        self, engine: Engine, proof: str, signed_in_as: int | None = None
    ) -> Identity | None:
        """The person the proof names, or None if it proves nothing (and is now spent).

        A browser already signed in as someone else is refused: the proof was not meant for it.
        """
        ...


class ChatLinkProvider:
    """Proof is the token of a link kmb sent in chat: unexpired, unused, spent on use."""

    name = "chat-link"

    def identify(
        self, engine: Engine, proof: str, signed_in_as: int | None = None
    ) -> Identity | None:
        """Spend the link's token; its person, or None for unknown, used or expired tokens,
        and for another person's link opened where someone is signed in."""
        if not proof or len(proof) > 200:
            return None
        now = engine.store.now()
        with engine.store.session() as s:
            link = s.exec(select(DeskLink).where(DeskLink.token_hash == digest(proof))).first()
            if link is None or link.used_at is not None or link.expires_at <= now:
                return None
            link.used_at = now  # single use, even if what follows fails
            if signed_in_as is not None and signed_in_as != link.person_id:
                engine.store.audit(s, link.person_id, "desk.link_refused", {"by": signed_in_as})
                return None  # someone else's link: spent, so it can't be tried elsewhere
            return Identity(link.person_id, self.name)


def start_session(engine: Engine, identity: Identity) -> str:
    """A new session for a person; the token for the cookie (only its hash is stored)."""
    token = secrets.token_urlsafe(32)
    now = engine.store.now()
    with engine.store.session() as s:
        s.add(
            DeskSession(
                token_hash=digest(token),
                person_id=identity.person_id,
                csrf=secrets.token_urlsafe(24),
                created_at=now,
                last_seen_at=now,
                expires_at=now + MAX_AGE,
            )
        )
        engine.store.audit(s, identity.person_id, "desk.sign_in", {"via": identity.via})
    return token


@dataclass(frozen=True)
class Viewer:
    """The signed-in person on one request: who, their roles, and their session's CSRF token."""

    session_id: int
    person_id: int
    display_name: str
    platform: str
    external_id: str
    roles: frozenset[str]
    csrf: str
    flash: str = ""

    def has(self, role: str) -> bool:
        """True if they hold the role (admins hold every role)."""
        return role in self.roles or "admin" in self.roles


def viewer(engine: Engine, token: str | None) -> Viewer | None:
    """The person a session cookie belongs to, if the session is live; keeps it alive."""
    if not token or len(token) > 200:
        return None
    now = engine.store.now()
    with engine.store.session() as s:
        row = s.exec(select(DeskSession).where(DeskSession.token_hash == digest(token))).first()
        if row is None:
            return None
        if row.expires_at <= now or row.last_seen_at + IDLE <= now:
            s.delete(row)
            return None
        person = s.get(Person, row.person_id)
        if person is None:
            return None
        if now - row.last_seen_at >= TOUCH_EVERY:
            row.last_seen_at = now
        flash, row.flash = row.flash, ""
        assert row.id is not None and person.id is not None
        return Viewer(
            session_id=row.id,
            person_id=person.id,
            display_name=person.display_name,
            platform=person.platform,
            external_id=person.external_id,
            roles=frozenset(person.roles.split(",")),
            csrf=row.csrf,
            flash=flash,
        )


def set_flash(engine: Engine, session_id: int, text: str) -> None:
    """What the last action did, shown once on the next page."""
    with engine.store.session() as s:
        row = s.get(DeskSession, session_id)
        if row is not None:
            row.flash = text[:2000]


def end_session(engine: Engine, session_id: int) -> None:
    """Sign this session out."""
    with engine.store.session() as s:
        row = s.get(DeskSession, session_id)
        if row is not None:
            engine.store.audit(s, row.person_id, "desk.sign_out", {})
            s.delete(row)


def end_all_sessions(engine: Engine, person_id: int) -> int:
    """Sign a person out of every desk session (and spend their unused links); how many."""
    with engine.store.session() as s:
        rows = s.exec(select(DeskSession).where(DeskSession.person_id == person_id)).all()
        for row in rows:
            s.delete(row)
        for link in s.exec(
            select(DeskLink).where(
                DeskLink.person_id == person_id, col(DeskLink.used_at).is_(None)
            )
        ):
            link.used_at = engine.store.now()
        engine.store.audit(s, person_id, "desk.sign_out_everywhere", {"sessions": len(rows)})
        return len(rows)


class RateLimit:
    """At most `limit` attempts per key in any `window` (sign-in attempts per address)."""

    def __init__(self, engine: Engine, limit: int = 10, window_s: float = 60.0) -> None:
        self.engine = engine
        self.limit = limit
        self.window = dt.timedelta(seconds=window_s)
        self._seen: dict[str, deque[dt.datetime]] = {}

    def allow(self, key: str) -> bool:
        """Count an attempt; False when the key has had its share of the window."""
        now = self.engine.clock.now()
        seen = self._seen.setdefault(key, deque())
        while seen and seen[0] <= now - self.window:
            seen.popleft()
        if len(seen) >= self.limit:
            return False
        seen.append(now)
        if len(self._seen) > 10_000:  # forget the quiet ones, so memory stays bounded
            self._seen = {k: v for k, v in self._seen.items() if v}
        return True


def sweep(engine: Engine) -> int:
    """Delete sessions that have ended and links that can no longer be used; how many."""
    now = engine.store.now()
    with engine.store.session() as s:
        sessions = s.exec(
            select(DeskSession).where(
                (col(DeskSession.expires_at) <= now)
                | (col(DeskSession.last_seen_at) <= now - IDLE)
            )
        ).all()
        links = s.exec(
            select(DeskLink).where(
                (col(DeskLink.expires_at) <= now) | col(DeskLink.used_at).is_not(None)
            )
        ).all()
        for row in [*sessions, *links]:
            s.delete(row)
        return len(sessions) + len(links)
