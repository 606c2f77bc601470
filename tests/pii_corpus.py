"""The PII corpora: valid NHS numbers in every written form, ordinary NHS text, and a scanner.

The scanner is written independently of `bot.pii` (its own separator rule from Unicode
categories, no context exemptions) so a test that uses it checks the guard rather than
repeating it.
"""

from __future__ import annotations

import html
import json
import random
import re
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, Engine, String, Text, inspect, text

DATA = Path(__file__).parent / "data"


def _lines(name: str) -> list[str]:
    return [
        line.rstrip("\n")
        for line in (DATA / name).read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]


def check_digit(nine: str) -> str | None:
    """The tenth digit that makes nine digits a valid NHS number (None: no valid one)."""
    total = sum(int(d) * w for d, w in zip(nine, range(10, 1, -1), strict=True))
    check = (11 - total % 11) % 11
    return None if check == 10 else str(check)


def valid_numbers(n: int, seed: int = 11) -> list[str]:
    """The known examples, then seeded random valid NHS numbers across the whole range."""
    out = _lines("nhs_numbers.txt")
    rng = random.Random(seed)
    while len(out) < n:
        nine = f"{rng.randrange(10**9):09d}"
        check = check_digit(nine)
        if check is not None:
            out.append(nine + check)
    return out[:n]


def _grouped(n: str, sizes: tuple[int, ...], sep: str | list[str]) -> str:
    parts, i = [], 0
    for size in sizes:
        parts.append(n[i : i + size])
        i += size
    seps = sep if isinstance(sep, list) else [sep] * (len(parts) - 1)
    out = parts[0]
    for s, part in zip(seps, parts[1:], strict=True):
        out += s + part
    return out


def written_forms(n: str) -> list[str]:
    """One NHS number written every way the guard must catch it, with neighbours stuck on."""
    fullwidth = n.translate({ord(d): 0xFF10 + int(d) for d in "0123456789"})
    forms = [
        n,
        _grouped(n, (3, 3, 4), " "),
        _grouped(n, (3, 3, 4), "-"),
        _grouped(n, (3, 3, 4), "."),
        _grouped(n, (3, 3, 4), "\u00a0"),  # non-breaking spaces
        _grouped(n, (3, 3, 4), "\u2013"),  # en dash
        _grouped(n, (3, 3, 4), "\u2014"),  # em dash
        _grouped(n, (3, 3, 4), "\u2212"),  # minus sign
        _grouped(n, (3, 3, 4), "\u2011"),  # non-breaking hyphen
        _grouped(n, (3, 3, 4), "\u202f"),  # narrow no-break space
        _grouped(n, (3, 3, 4), "  "),  # double spaces
        _grouped(n, (3, 3, 4), "\n"),  # line breaks
        _grouped(n, (3, 3, 4), "\r\n"),
        _grouped(n, (3, 3, 4), " - "),
        _grouped(n, (3, 3, 4), [" ", "-"]),  # mixed separators
        _grouped(n, (3, 3, 4), ["\u00a0", "."]),
        _grouped(n, (3, 3, 4), ["\u2013", " \n"]),
        _grouped(n, (4, 3, 3), " "),
        _grouped(n, (4, 3, 3), "-"),
        _grouped(n, (3, 4, 3), "."),
        _grouped(n, (5, 5), " "),
        _grouped(n, (3, 7), "-"),
        _grouped(n, (2, 4, 4), " "),
        _grouped(n, (3, 3, 2, 2), ["-", " ", "."]),
        _grouped(n, (1,) * 10, " "),
        _grouped(n, (3, 3, 4), "\u200b"),  # zero-width space
        fullwidth,
        _grouped(n, (3, 3, 4), "&nbsp;"),  # HTML, as a Teams message may carry it
        _grouped(n, (3, 3, 4), ["&ndash;", "&#8212;"]),
    ]
    spaced = _grouped(n, (3, 3, 4), " ")
    neighbours = [
        f"patient-{n}",
        f"ref:{spaced}-A",
        f"NHS{n}",
        f"{n}A",
        f"#{_grouped(n, (3, 3, 4), '-')}#",
        f"https://records.example.nhs.uk/patients/{n}/notes",
        f"https://example.nhs.uk/lookup?nhs={spaced.replace(' ', '%20')}&x=1",
        f"({_grouped(n, (4, 3, 3), '.')})",
        f"https://www.example.com/search?q={_grouped(n, (3, 3, 4), '+')}",
        f"https://www.example.com/search?q=patient+{n}+falls",
        f"“{spaced}”",
        f"no.{n}",
    ]
    return forms + neighbours


def _separator(ch: str) -> bool:
    """Anything a person might put between digits of one number: spaces, dashes, dots."""
    return ch.isspace() or unicodedata.category(ch) in ("Pd", "Zs", "Cf") or ch in ".\u00b7_−"


# Platform-assigned values that are never what a person typed: Slack message timestamps and
# GUIDs (Teams tenant, user and group ids; the recorded fixtures' are mostly zeros).
_MACHINE = re.compile(
    r"\d{10}\.\d{6}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE
)


def find_nhs_numbers(value: str) -> list[str]:
    """Every run of ten digits with a valid check digit, whatever separates them."""
    value = html.unescape(_MACHINE.sub(" ", value)).replace("%20", " ").replace("+", " ")
    runs: list[list[str]] = []
    end = -1
    for m in re.finditer(r"\d+", value):
        gap = value[end : m.start()] if end >= 0 else "x"
        if runs and 1 <= len(gap) <= 4 and all(_separator(c) for c in gap):
            runs[-1].append(m[0])
        else:
            runs.append([m[0]])
        end = m.end()
    found = []
    for run in runs:
        for i in range(len(run)):
            joined = ""
            for part in run[i:]:
                joined += "".join(str(int(d)) for d in part)
                if len(joined) >= 10:
                    if len(joined) == 10 and check_digit(joined[:9]) == joined[9]:
                        found.append(joined)
                    break
    return found


def false_positive_lines() -> list[str]:
    """Ordinary NHS text from tests/data/pii_false_positives.txt."""
    return _lines("pii_false_positives.txt")


def generated_ordinary(seed: int = 5, n: int = 300) -> list[str]:
    """Seeded phone and bleep numbers, dates, times, doses, wards and beds, written as usual."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        area = rng.choice(["0114", "0113", "0161", "0121", "0117", "0131", "01632"])
        local = f"{rng.randrange(10**7):07d}"[: 11 - len(area)]
        out.append(f"Call {area} {local[:3]} {local[3:]} for the ward.")
        mob = f"7{rng.randrange(10**9):09d}"
        out.append(f"Mobile 0{mob[:4]} {mob[4:]}, +44 {mob[:4]} {mob[4:]}, (+44) {mob}.")
        ldn = f"{rng.randrange(10**8):08d}"
        out.append(f"London 020 {ldn[:4]} {ldn[4:]} / +44 (0)20 {ldn[:4]} {ldn[4:]}")
        d, m, y = rng.randrange(1, 29), rng.randrange(1, 13), rng.randrange(1990, 2031)
        hh, mm = rng.randrange(24), rng.randrange(60)
        out.append(
            f"Seen {d:02d}.{m:02d}.{y} {hh:02d}.{mm:02d}, {y}-{m:02d}-{d:02d} {hh}:{mm:02d}"
        )
        out.append(f"Clinic {d}/{m}/{y} at {hh:02d}:{mm:02d}, bleep {rng.randrange(1000, 9999)}.")
        dose, per_kg = rng.randrange(1, 1000), rng.randrange(1, 100)
        ward, bed = rng.randrange(1, 40), rng.randrange(1, 30)
        out.append(f"Give {dose} mg then {per_kg}.5 mg/kg; ward {ward} bed {bed}.")
    return out


def dump_text(engine: Engine) -> Iterator[tuple[str, str, str]]:
    """Every string in every text or JSON column of every table: (table, column, value).

    JSON is walked (keys too), whether the driver returns it parsed or as text.
    """
    inspector = inspect(engine)
    with engine.connect() as conn:
        for table in inspector.get_table_names():
            columns = [
                c["name"]
                for c in inspector.get_columns(table)
                if isinstance(c["type"], String | Text | JSON)  # not dates, numbers, flags
            ]
            rows = conn.execute(text(f'SELECT * FROM "{table}"')).mappings().all()
            for row in rows:
                for column in columns:
                    for value in _strings(row[column]):
                        yield table, column, value


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        if value[:1] in ("{", "["):  # JSON stored as text (SQLite): read it as JSON
            try:
                yield from _strings(json.loads(value))
                return
            except ValueError:
                pass
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield str(k)
            yield from _strings(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from _strings(v)
