"""Working time: each person's working days and local hours, in their own timezone.

A working day is Monday–Friday, not a UK bank holiday in the person's nation (England & Wales,
Scotland, Northern Ireland, from the `holidays` package) and not one of their out-of-office
days. Prompts go out at a local hour (10:00 by default) and reminders fall a share of the way
through the working minutes of a window; all results are aware UTC datetimes, so a clock change
moves the UTC instant and never the local hour.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

NATIONS = {"england": "ENG", "wales": "WLS", "scotland": "SCT", "northern-ireland": "NIR"}
NATION_WORDS = {
    "england": "england",
    "wales": "wales",
    "scotland": "scotland",
    "northern-ireland": "northern-ireland",
    "northern ireland": "northern-ireland",
    "ni": "northern-ireland",
}
SEND_AT = dt.time(10, 0)
DAY_STARTS = dt.time(9, 0)
DAY_ENDS = dt.time(17, 0)


@lru_cache(maxsize=64)
def _bank_holidays(nation: str, year: int) -> frozenset[dt.date]:
    subdiv = NATIONS.get(nation, "ENG")
    return frozenset(holidays.country_holidays("GB", subdiv=subdiv, years=year).keys())


def is_working_day(day: dt.date, nation: str = "england") -> bool:
    """True for Monday–Friday that is not a bank holiday in the nation."""
    return day.weekday() < 5 and day not in _bank_holidays(nation, day.year)


def add_working_days(day: dt.date, n: int, nation: str = "england") -> dt.date:
    """The date `n` working days after `day`."""
    while n > 0:
        day += dt.timedelta(days=1)
        if is_working_day(day, nation):
            n -= 1
    return day


def zone(name: str | None, default: str = "Europe/London") -> ZoneInfo:
    """An IANA timezone, falling back to `default` for an unknown or missing name."""
    for candidate in (name, default, "Europe/London"):
        if candidate:
            try:
                return ZoneInfo(candidate)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("Europe/London")


def is_timezone(name: str) -> bool:
    """True if `name` is an IANA timezone this machine knows."""
    try:
        ZoneInfo(name)
        return True
    except (ZoneInfoNotFoundError, ValueError):
        return False


@dataclass(frozen=True)
class Calendar:
    """One person's working time: timezone, nation and out-of-office ranges (inclusive)."""

    tz: str = "Europe/London"
    nation: str = "england"
    away: tuple[tuple[dt.date, dt.date], ...] = field(default=())
    send_at: dt.time = SEND_AT
    day_starts: dt.time = DAY_STARTS
    day_ends: dt.time = DAY_ENDS

    @property
    def zone(self) -> ZoneInfo:
        """The timezone object."""
        return zone(self.tz)

    def is_working_day(self, day: dt.date) -> bool:
        """A weekday, not a bank holiday in this nation, not out of office."""
        if not is_working_day(day, self.nation):
            return False
        return not any(start <= day <= end for start, end in self.away)

    def working_day_on_or_after(self, day: dt.date) -> dt.date:
        """The first working day from `day` (inclusive)."""
        for _ in range(800):  # a long absence still ends
            if self.is_working_day(day):
                return day
            day += dt.timedelta(days=1)
        return day

    def add_working_days(self, day: dt.date, n: int) -> dt.date:
        """The date `n` working days after `day` (by this calendar)."""
        while n > 0:
            day += dt.timedelta(days=1)
            if self.is_working_day(day):
                n -= 1
        return day

    def local_date(self, when: dt.datetime) -> dt.date:
        """The person's local date at an instant."""
        return when.astimezone(self.zone).date()

    def at(self, day: dt.date, time: dt.time) -> dt.datetime:
        """Local wall-clock `time` on `day`, as aware UTC (a skipped hour moves forward)."""
        local = dt.datetime.combine(day, time, tzinfo=self.zone)
        # Round trip through UTC normalises a time that a spring clock change skipped.
        return local.astimezone(dt.UTC)

    def send_time(self, on_or_after: dt.date) -> dt.datetime:
        """When a prompt due on a date goes out: the local send hour of the next working day."""
        return self.at(self.working_day_on_or_after(on_or_after), self.send_at)

    def in_working_hours(self, when: dt.datetime) -> bool:
        """True during the local working day on a working day."""
        local = when.astimezone(self.zone)
        in_day = self.day_starts <= local.time() < self.day_ends
        return in_day and self.is_working_day(local.date())

    def next_send(self, after: dt.datetime) -> dt.datetime:
        """`after` itself inside working hours, else the next working day's send hour."""
        if self.in_working_hours(after):
            return after
        local = after.astimezone(self.zone)
        day = local.date()
        if self.is_working_day(day) and local.time() < self.day_starts:
            return self.at(day, self.send_at)
        return self.send_time(day + dt.timedelta(days=1))

    def close_time(self, opens: dt.datetime, working_days: int) -> dt.datetime:
        """The end of the window: local day end on the last of `working_days` working days."""
        first = self.working_day_on_or_after(self.local_date(opens))
        return self.at(self.add_working_days(first, max(0, working_days - 1)), self.day_ends)

    def _segments(self, start: dt.datetime, end: dt.datetime) -> list[tuple[dt.datetime, float]]:
        """Working stretches between two instants: (segment start, seconds)."""
        out: list[tuple[dt.datetime, float]] = []
        day = self.local_date(start)
        last = self.local_date(end)
        while day <= last:
            if self.is_working_day(day):
                lo = max(start, self.at(day, self.day_starts))
                hi = min(end, self.at(day, self.day_ends))
                if hi > lo:
                    out.append((lo, (hi - lo).total_seconds()))
            day += dt.timedelta(days=1)
        return out

    def working_seconds(self, start: dt.datetime, end: dt.datetime) -> float:
        """Working seconds between two instants."""
        return sum(seconds for _, seconds in self._segments(start, end))

    def fraction_point(self, start: dt.datetime, end: dt.datetime, share: float) -> dt.datetime:
        """The instant `share` of the way through the working time between two instants."""
        segments = self._segments(start, end)
        target = share * sum(seconds for _, seconds in segments)
        for seg_start, seconds in segments:
            if target <= seconds:
                return seg_start + dt.timedelta(seconds=target)
            target -= seconds
        return end


def parse_away(text: str) -> tuple[dt.date, dt.date] | None:
    """`2026-12-21 to 2027-01-02` (or a single date) as an inclusive range."""
    words = text.replace("–", " to ").replace(" - ", " to ").split()
    try:
        if len(words) == 1:
            day = dt.date.fromisoformat(words[0])
            return day, day
        if len(words) == 3 and words[1].lower() in ("to", "until", "till"):
            start, end = dt.date.fromisoformat(words[0]), dt.date.fromisoformat(words[2])
            return (start, end) if start <= end else None
    except ValueError:
        return None
    return None


def learn_timezone(person: Any, ref: Any) -> None:
    """Take the platform's timezone for a person who has none yet (one they chose stays)."""
    tz = getattr(ref, "timezone", None)
    if tz and not person.timezone and is_timezone(tz):
        person.timezone = tz
