"""Turning what a person typed into a form field's value, with a clear message when it won't do."""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass

import dateparser

from bot.messages import Input
from bot.pii import guard, visible_length

YES = frozenset({"yes", "y", "yeah", "yep", "true", "on", "1"})
NO = frozenset({"no", "n", "nope", "false", "off", "0"})


@dataclass(frozen=True)
class Parsed:
    """A parsed field: the value to store, or an error to show; plus any PII notice."""

    value: str = ""
    error: str = ""
    notice: str = ""
    understood: str = ""  # how a date was read, said back to the person ("Friday 4 December")


# Words around a date that carry no date ("by friday", "before 15 Dec").
LEAD_WORDS = re.compile(r"^(?:by|before|on|until|till|no later than|at the latest|for)\s+")
ASAP = frozenset(
    {"asap", "a.s.a.p.", "a.s.a.p", "as soon as possible", "urgent", "urgently", "immediately"}
)
ASAP_HELP = (
    "“As soon as possible” doesn't tell anyone what to plan for — please give the latest date "
    "that still helps (e.g. `friday`, `15 Dec` or `in 2 weeks`)."
)
# An enquiry's deadline: urgency for a patient is its own question, and those searches go first.
PATIENT_FIRST = (
    " If it informs a decision about a specific patient, answer yes when asked: those searches "
    "go first."
)
MONTHS = {m.lower(): i for i, m in enumerate(calendar.month_name) if m} | {
    m.lower(): i for i, m in enumerate(calendar.month_abbr) if m
}
PART_OF_MONTH = re.compile(
    r"(?P<part>end|the end|start|the start|beginning|the beginning|mid|middle|the middle)"
    r"(?: of)?(?: the)? (?P<month>next month|this month|month|[a-z]+)(?: (?P<year>\d{4}))?"
)


def _part_of_month(text: str, today: dt.date) -> dt.date | None:
    """`end of January`, `mid march`, `start of next month`: a day the parser leaves out."""
    m = PART_OF_MONTH.fullmatch(text)
    if m is None:
        return None
    word = m.group("month")
    if word in ("month", "this month"):
        year, month = today.year, today.month
    elif word == "next month":
        year, month = today.year + today.month // 12, today.month % 12 + 1
    elif word in MONTHS:
        month = MONTHS[word]
        year = int(m.group("year") or (today.year if month >= today.month else today.year + 1))
    else:
        return None
    part = m.group("part").removeprefix("the ")
    if part == "end":
        return dt.date(year, month, calendar.monthrange(year, month)[1])
    return dt.date(year, month, 15 if part in ("mid", "middle") else 1)


def parse_date(raw: str, today: dt.date) -> dt.date | None:
    """Dates as people write them: friday, next week, 15 Dec, end of January, in 2 weeks, ISO
    and UK numeric dates. Relative words count from `today` (the person's own date); a day and
    month with no year is the next one to come.
    """
    text = LEAD_WORDS.sub("", " ".join(raw.strip().lower().split())).rstrip(".")
    if len(text) < 3 or text.isdigit():
        return None  # "1" or "a" are not dates, whatever a lenient parser makes of them
    if text == "end of week" or text == "end of the week":
        return today + dt.timedelta(days=(4 - today.weekday()) % 7)
    day = _part_of_month(text, today)
    if day is not None:
        return day
    parsed = dateparser.parse(
        text,
        languages=["en"],
        settings={
            "PREFER_DATES_FROM": "future",
            "DATE_ORDER": "DMY",
            "PREFER_DAY_OF_MONTH": "first",
            "RELATIVE_BASE": dt.datetime.combine(today, dt.time(12)),
            "RETURN_AS_TIMEZONE_AWARE": False,
        },
    )
    return parsed.date() if parsed is not None else None


def say_date(day: dt.date, today: dt.date) -> str:
    """A date as people say it: "Friday 4 December" (with the year when it isn't this one)."""
    year = f" {day.year}" if day.year != today.year else ""
    return f"{day:%A} {day.day} {day:%B}{year}"


def parse_field(field: Input, raw: str, today: dt.date) -> Parsed:
    """Check one answer against its field."""
    text = raw.strip()
    if not text:
        if field.required:
            return Parsed(error="This one is needed — please type an answer (or `cancel`).")
        return Parsed(value="")
    if field.kind in ("text", "multiline", "people"):
        # The guard's markers are not counted: redaction must never cost a person their answer
        # (a console answer is redacted as typed and checked again when the form is sent).
        length = visible_length(text)
        if field.max_length and length > field.max_length:
            return Parsed(
                error=f"That is {length:,} characters; the limit here is "
                f"{field.max_length:,}. Please shorten it."
            )
        guarded = guard(text)
        return Parsed(value=guarded.text, notice=guarded.notice())
    if field.kind == "choice":
        low = text.lower()
        for i, choice in enumerate(field.choices, start=1):
            if low in (str(i), choice.label.lower(), choice.value.lower()):
                return Parsed(value=choice.value)
        options = ", ".join(f"{i} {c.label}" for i, c in enumerate(field.choices, start=1))
        return Parsed(error=f"Please pick one of: {options}.")
    if field.kind in ("yesno", "toggle"):
        if text.lower() in YES:
            return Parsed(value="yes")
        if text.lower() in NO:
            return Parsed(value="no")
        return Parsed(error="Please answer yes or no.")
    if field.kind == "scale":
        if text.isdigit() and 1 <= int(text) <= 10:
            return Parsed(value=str(int(text)))
        return Parsed(error="Please give a whole number from 1 to 10.")
    if field.kind == "number":
        top = field.maximum
        if not text.isdigit() or (top is not None and int(text) > top):
            unit = f" of {field.unit}" if field.unit else ""
            upto = f" from 0 to {top}" if top is not None else ""
            return Parsed(error=f"Please give a whole number{unit}{upto}.")
        return Parsed(value=str(int(text)))
    if field.kind == "date":
        if " ".join(text.lower().split()).rstrip(".!") in ASAP:
            return Parsed(error=ASAP_HELP + (PATIENT_FIRST if field.id == "deadline" else ""))
        day = parse_date(text, today)
        if day is None:
            return Parsed(
                error="I couldn't read that date. Try `friday`, `15 Dec`, `in 2 weeks`, "
                "`end of January` or 15/12/2026."
            )
        return Parsed(value=day.isoformat(), understood=say_date(day, today))
    return Parsed(error=f"Unsupported field kind {field.kind}")
