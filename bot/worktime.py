"""Working days: weekends and UK bank holidays (per nation) are not working days."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

import holidays

NATIONS = {"england": "ENG", "wales": "WLS", "scotland": "SCT", "northern-ireland": "NIR"}


@lru_cache(maxsize=32)
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
