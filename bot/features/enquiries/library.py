"""Library teams: which team an enquiry goes to, where it posts, and when the team is open."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from bot.content.models import Library, LibraryTeam, OpeningHours, RouteMatch
from bot.worktime import is_working_day

if TYPE_CHECKING:
    from bot.engine import Engine

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
FALLBACK = Library(
    source="https://library.hee.nhs.uk/learning-academy/learning-zone/evidence-searching/"
    "national-searching-guidance",
    default="library",
    teams=[
        LibraryTeam(
            slug="library",
            name="Library and knowledge service",
            hours=OpeningHours(
                days=["mon", "tue", "wed", "thu", "fri"],
                open=dt.time(9),
                close=dt.time(17),
            ),
        )
    ],
)
RULES = "routing-rules"  # setting: rules added in chat by an admin


def library(engine: Engine) -> Library:
    """The configured library teams (content/library.yaml), or one default team."""
    return engine.catalogue.library or FALLBACK


def team(engine: Engine, slug: str) -> LibraryTeam:
    """A team by slug (the default team for an unknown slug)."""
    lib = library(engine)
    found = {t.slug: t for t in lib.teams}
    return found.get(slug) or found[lib.default]


def _rules(engine: Engine) -> list[tuple[str, RouteMatch]]:
    rules = [(t.slug, t.match) for t in library(engine).teams]
    extra = (engine.store.get_setting(RULES) or {}).get("rules", [])
    for rule in extra:
        field = {"organisation": "organisations", "purpose": "purposes", "keyword": "keywords"}
        kind = field.get(rule.get("kind", ""))
        if kind:
            rules.insert(0, (rule["team"], RouteMatch(**{kind: [rule["value"]]})))
    return rules


def route(engine: Engine, values: Mapping[str, str]) -> str:
    """The team an enquiry goes to: the first rule that matches, else the default team."""
    organisation = values.get("organisation", "").strip().lower()
    purpose = values.get("purpose", "")
    text = f" {values.get('question', '')} {values.get('pico', '')} ".lower()
    known = {t.slug for t in library(engine).teams}
    for slug, match in _rules(engine):
        if slug not in known:
            continue
        if organisation and any(o.lower() == organisation for o in match.organisations):
            return slug
        if purpose in match.purposes:
            return slug
        if any(f" {k.lower()} " in text or f" {k.lower()}s " in text for k in match.keywords):
            return slug
    return library(engine).default


def add_rule(
    engine: Engine, team_slug: str, kind: str, value: str, actor_id: int | None = None
) -> str:
    """An admin's routing rule; an error message, or an empty string when it was added."""
    if team_slug not in {t.slug for t in library(engine).teams}:
        names = ", ".join(t.slug for t in library(engine).teams)
        return f"There is no library team “{team_slug[:40]}”. Teams: {names}."
    if kind not in ("organisation", "purpose", "keyword"):
        return "A rule matches an `organisation`, a `purpose` or a `keyword`."
    if not value.strip():
        return "Say what it should match, e.g. `admin route clinical-librarians keyword sepsis`."
    current = (engine.store.get_setting(RULES) or {}).get("rules", [])
    rule = {"team": team_slug, "kind": kind, "value": value.strip()[:120]}
    current.append(rule)
    with engine.store.session() as s:
        engine.store.set_setting(s, RULES, {"rules": current})
        engine.store.audit(s, actor_id, "admin.route", rule)
    return ""


def channel(engine: Engine, slug: str) -> dict[str, Any] | None:
    """Where a team's enquiries are posted: its own channel, else the default team's."""
    chosen = engine.store.get_setting(f"librarian-channel:{slug}")
    if chosen:
        return chosen
    chosen = engine.store.get_setting("librarian-channel")  # the default team's (admin's choice)
    if chosen:
        return chosen
    fallback = engine.settings.kmb_slack_librarian_channel
    if fallback:
        return {"platform": "slack", "id": fallback, "kind": "channel", "thread": None}
    return None


def is_open(hours: OpeningHours, when: dt.datetime) -> bool:
    """True while the team is at work."""
    local = when.astimezone(ZoneInfo(hours.timezone))
    return _open_day(hours, local.date()) and hours.open <= local.time() < hours.close


def _open_day(hours: OpeningHours, day: dt.date) -> bool:
    bank_holiday = day.weekday() < 5 and not is_working_day(day, hours.nation)
    return DAYS[day.weekday()] in hours.days and not bank_holiday


def next_open(hours: OpeningHours, when: dt.datetime) -> dt.datetime:
    """When the team is next at work (now, if it is open)."""
    zone = ZoneInfo(hours.timezone)
    local = when.astimezone(zone)
    day = local.date()
    for _ in range(30):
        start = dt.datetime.combine(day, hours.open, zone)
        end = dt.datetime.combine(day, hours.close, zone)
        if _open_day(hours, day) and local < end:
            return max(start, local)
        day += dt.timedelta(days=1)
    return local


def working_hours_between(hours: OpeningHours, start: dt.datetime, end: dt.datetime) -> float:
    """Hours the team was open between two moments."""
    zone = ZoneInfo(hours.timezone)
    total = 0.0
    day = start.astimezone(zone).date()
    last = end.astimezone(zone).date()
    while day <= last:
        if _open_day(hours, day):
            a = max(start, dt.datetime.combine(day, hours.open, zone))
            b = min(end, dt.datetime.combine(day, hours.close, zone))
            if b > a:
                total += (b - a).total_seconds() / 3600
        day += dt.timedelta(days=1)
    return total


def working_days_until(hours: OpeningHours, today: dt.date, deadline: dt.date) -> int:
    """Team working days from today to the deadline (0 on the day; negative once past)."""
    if deadline < today:
        return -1
    n, day = 0, today
    while day < deadline:
        day += dt.timedelta(days=1)
        if _open_day(hours, day):
            n += 1
    return n
