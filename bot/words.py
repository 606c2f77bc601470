"""Words that agree with their numbers: "1 enquiry", "3 enquiries", never "enquiry(ies)"."""

from __future__ import annotations

IRREGULAR = {"person": "people", "enquiry": "enquiries", "day": "days", "reply": "replies"}


def plural(n: int, noun: str, many: str | None = None) -> str:
    """The noun for n of it: `plural(1, "enquiry")` is "enquiry", `plural(3, ...)` "enquiries"."""
    if n == 1:
        return noun
    if many is not None:
        return many
    last = noun.split()[-1]
    if last in IRREGULAR:
        return noun[: -len(last)] + IRREGULAR[last]
    if last.endswith("y") and last[-2:-1] not in "aeiou":
        return noun[:-1] + "ies"
    if last.endswith(("s", "x", "ch", "sh")):
        return noun + "es"
    return noun + "s"


def count(n: int, noun: str, many: str | None = None) -> str:
    """A number with its noun: "1 retro prompt", "2 retro prompts", "3 working days"."""
    return f"{n} {plural(n, noun, many)}"


def shorten(text: str, limit: int) -> str:
    """Text cut to `limit` characters, with an ellipsis when anything was cut."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
