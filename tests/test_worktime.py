"""The working-time calculator: weekends, each nation's bank holidays, clock changes, absences."""

import datetime as dt

import pytest

from bot.worktime import Calendar, parse_away

D = dt.date
UTC = dt.UTC


def _utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


# (nation, date, working?) — bank holidays 2026–2027 from the `holidays` package, and days that
# are holidays in one nation but working days in another.
BANK_HOLIDAYS = [
    ("england", D(2026, 1, 1), False),
    ("england", D(2026, 4, 3), False),  # Good Friday
    ("england", D(2026, 4, 6), False),  # Easter Monday
    ("england", D(2026, 5, 4), False),
    ("england", D(2026, 5, 25), False),
    ("england", D(2026, 8, 31), False),
    ("england", D(2026, 12, 25), False),
    ("england", D(2026, 12, 28), False),  # Boxing Day falls on a Saturday: substitute Monday
    ("england", D(2027, 3, 26), False),
    ("england", D(2027, 3, 29), False),
    ("england", D(2027, 12, 27), False),
    ("england", D(2027, 12, 28), False),
    ("england", D(2026, 11, 30), True),  # St Andrew's Day is Scotland's
    ("england", D(2026, 3, 17), True),  # St Patrick's Day is Northern Ireland's
    ("wales", D(2026, 4, 6), False),
    ("wales", D(2026, 8, 31), False),
    ("wales", D(2027, 8, 30), False),
    ("scotland", D(2026, 1, 2), False),
    ("scotland", D(2026, 8, 3), False),  # first Monday of August
    ("scotland", D(2026, 11, 30), False),  # St Andrew's Day
    ("scotland", D(2027, 1, 4), False),  # 2 January falls on a Saturday: substitute Monday
    ("scotland", D(2027, 11, 30), False),
    ("scotland", D(2026, 4, 6), True),  # no Easter Monday in Scotland
    ("scotland", D(2026, 8, 31), True),  # nor the late August holiday
    ("northern-ireland", D(2026, 3, 17), False),
    ("northern-ireland", D(2026, 7, 13), False),  # the Twelfth on a Sunday: substitute Monday
    ("northern-ireland", D(2027, 3, 17), False),
    ("northern-ireland", D(2027, 7, 12), False),
    ("northern-ireland", D(2026, 11, 30), True),
    ("england", D(2026, 11, 28), False),  # Saturday
    ("england", D(2026, 11, 29), False),  # Sunday
    ("england", D(2026, 11, 27), True),  # an ordinary Friday
]


@pytest.mark.parametrize(("nation", "day", "working"), BANK_HOLIDAYS)
def test_working_days_by_nation(nation: str, day: dt.date, working: bool) -> None:
    assert Calendar(nation=nation).is_working_day(day) is working


# (timezone, nation, due date, expected send instant in UTC)
SEND_TIMES = [
    # the spring clock change, Sunday 29 March 2026: 10:00 is 10:00 UTC before, 09:00 after
    ("Europe/London", "england", D(2026, 3, 27), _utc(2026, 3, 27, 10)),
    ("Europe/London", "england", D(2026, 3, 28), _utc(2026, 3, 30, 9)),  # Sat → Monday, BST
    ("Europe/London", "england", D(2026, 3, 30), _utc(2026, 3, 30, 9)),
    # the autumn clock change, Sunday 25 October 2026: 09:00 UTC before, 10:00 after
    ("Europe/London", "england", D(2026, 10, 23), _utc(2026, 10, 23, 9)),
    ("Europe/London", "england", D(2026, 10, 24), _utc(2026, 10, 26, 10)),  # Sat → Mon, GMT
    # bank holidays move the prompt to the next working day
    ("Europe/London", "england", D(2026, 12, 25), _utc(2026, 12, 29, 10)),
    ("Europe/London", "scotland", D(2026, 11, 30), _utc(2026, 12, 1, 10)),
    ("Europe/London", "england", D(2026, 11, 30), _utc(2026, 11, 30, 10)),
    ("Europe/London", "northern-ireland", D(2026, 7, 13), _utc(2026, 7, 14, 9)),
    # people elsewhere get 10:00 their time
    ("America/New_York", "england", D(2026, 11, 30), _utc(2026, 11, 30, 15)),
    ("Asia/Kolkata", "england", D(2026, 11, 30), _utc(2026, 11, 30, 4, 30)),
    ("Europe/Paris", "england", D(2026, 3, 30), _utc(2026, 3, 30, 8)),
    ("Not/AZone", "england", D(2026, 11, 30), _utc(2026, 11, 30, 10)),  # falls back to London
]


@pytest.mark.parametrize(("tz", "nation", "day", "expected"), SEND_TIMES)
def test_send_time_is_the_local_morning_of_the_next_working_day(
    tz: str, nation: str, day: dt.date, expected: dt.datetime
) -> None:
    assert Calendar(tz=tz, nation=nation).send_time(day) == expected


def test_out_of_office_skips_every_day_away() -> None:
    cal = Calendar(away=((D(2026, 12, 21), D(2027, 1, 2)),))
    assert not cal.is_working_day(D(2026, 12, 21))
    assert not cal.is_working_day(D(2027, 1, 1))
    # 2 and 3 January are a weekend, so the first working morning is Monday 4 January
    assert cal.send_time(D(2026, 12, 21)) == _utc(2027, 1, 4, 10)
    assert Calendar().send_time(D(2026, 12, 21)) == _utc(2026, 12, 21, 10)


def test_next_send_inside_working_hours_is_now_else_next_morning() -> None:
    cal = Calendar()
    assert cal.next_send(_utc(2026, 11, 23, 11)) == _utc(2026, 11, 23, 11)
    assert cal.next_send(_utc(2026, 11, 23, 7)) == _utc(2026, 11, 23, 10)
    assert cal.next_send(_utc(2026, 11, 23, 18)) == _utc(2026, 11, 24, 10)
    assert cal.next_send(_utc(2026, 11, 27, 18)) == _utc(2026, 11, 30, 10)  # Friday evening


def test_window_closes_at_the_end_of_its_last_working_day_across_a_clock_change() -> None:
    cal = Calendar()
    # opens Thursday 22 October (BST); 5 working days → Wednesday 28 October 17:00 GMT
    assert cal.close_time(_utc(2026, 10, 22, 9), 5) == _utc(2026, 10, 28, 17)
    # opens Thursday 26 March (GMT); 5 working days → Wednesday 1 April 17:00 BST
    assert cal.close_time(_utc(2026, 3, 26, 10), 5) == _utc(2026, 4, 1, 16)


def test_reminder_falls_seventy_percent_through_the_working_time() -> None:
    cal = Calendar()
    opens, closes = _utc(2026, 11, 23, 10), _utc(2026, 11, 27, 17)
    # 7 h Monday + 8 h Tue–Fri = 39 working hours; 70 % = 27 h 18 min → Thursday 13:18
    assert cal.fraction_point(opens, closes, 0.7) == _utc(2026, 11, 26, 13, 18)
    assert cal.working_seconds(opens, closes) == 39 * 3600
    # over a weekend, the weekend counts for nothing
    fri, tue = _utc(2026, 11, 27, 10), _utc(2026, 12, 1, 17)
    assert cal.fraction_point(fri, tue, 0.5).date() == D(2026, 11, 30)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-21 to 2027-01-02", (D(2026, 12, 21), D(2027, 1, 2))),
        ("2026-12-24", (D(2026, 12, 24), D(2026, 12, 24))),
        ("2027-01-02 to 2026-12-21", None),
        ("next week", None),
        ("2026-13-01", None),
    ],
)
def test_out_of_office_dates_are_parsed_strictly(text: str, expected: object) -> None:
    assert parse_away(text) == expected
