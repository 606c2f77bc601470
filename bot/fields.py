"""Turning what a person typed into a form field's value, with a clear message when it won't do."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

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


def parse_date(raw: str, today: dt.date) -> dt.date | None:
    """Dates as people type them: 2026-12-01, 1/12/2026, 1 Dec 2026, today, tomorrow, in 3 days."""
    text = raw.strip().lower()
    if text == "today":
        return today
    if text == "tomorrow":
        return today + dt.timedelta(days=1)
    m = re.fullmatch(r"in (\d{1,3}) (day|days|week|weeks)", text)
    if m:
        n = int(m.group(1))
        return today + dt.timedelta(days=n * (7 if m.group(2).startswith("week") else 1))
    for fmt in ("%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y", "%d %b %Y", "%d %B %Y", "%d/%m/%y"):
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


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
    if field.kind == "date":
        day = parse_date(text, today)
        if day is None:
            return Parsed(
                error="I couldn't read that date. Try 2026-12-15, 15/12/2026 or tomorrow."
            )
        return Parsed(value=day.isoformat())
    return Parsed(error=f"Unsupported field kind {field.kind}")
