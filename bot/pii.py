"""The PII guard: patient identifiers are found in free text and replaced by a marker.

`guard` is what features call to tell a person what was removed. Storage does not rely on them
remembering: the free-text column types in `bot.store.types` pass every value through `guard`
on its way to the database, and the engine guards what comes in and every reply going out.

NHS numbers are found by their Modulus 11 check digit, however they are written: ten digits
in groups of any size, separated by any mix of spaces (including non-breaking and thin
spaces), dashes of any kind, dots, underscores and line breaks, with letters or punctuation
stuck to either end. Digits that are clearly something else are left alone: an international
phone number (`+44 …`, `(0)…`), an ISBN, a DOI, a GUID, money, a decimal, a clock time or a
calendar date.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, replace

from bot.messages import Actions, Element, Facts, Inbound, Input, Reply, Section, Text

NHS_NUMBER_MARK = "[NHS number removed]"
DOB_MARK = "[date of birth removed]"
HOSPITAL_NUMBER_MARK = "[hospital number removed]"
# Compact forms, used only when a value must fit a bounded column: each is no longer than the
# shortest text it can replace (ten digits; "dob1/1/50"; "MRN12345"), so redaction alone can
# never push a value past a limit the original met.
_COMPACT = {NHS_NUMBER_MARK: "[NHS no.]", DOB_MARK: "[DOB]", HOSPITAL_NUMBER_MARK: "[MRN]"}
MARKS = (*_COMPACT, *_COMPACT.values())
_MARK = re.compile("|".join(re.escape(m) for m in MARKS))

# What may sit between the digit groups of one number (at most a few of them in a row).
_SEPARATOR = (
    r"[\s\u00a0\u2007\u2009\u202f\u200b\u200c\u200d\u2060\ufeff"  # spaces, zero-width
    r"\-\u00ad\u2010-\u2015\u2043\u2212\ufe58\ufe63\uff0d"  # hyphens, dashes, minus
    r"._\u00b7\u2024\u2027\uff0e]"  # dots, underscore
)
_GAP = re.compile(_SEPARATOR + r"{1,8}|\+")  # a lone + is a space in a link's query
# Percent-encoded spaces, dashes, dots and line breaks (in links); read as blanks, same length.
_PERCENT = re.compile(r"%(?:20|2[dD]|2[eE]|5[fF]|0[9aAdD]|[cC]2%[aA]0|[eE]2%80%9[0-5])")
# HTML entities for spaces and dashes (a Teams message or stored payload in HTML), likewise.
_ENTITY = re.compile(
    r"&(?:nbsp|ensp|emsp|thinsp|ndash|mdash|minus|hyphen|dash|#(?:160|8194|8195|8201|8202|8203"
    r"|8208|8209|8210|8211|8212|8722)|#x(?:a0|200[2-9ab]|201[0-5]|2212));",
    re.IGNORECASE,
)
_DIGITS = re.compile(r"\d+")
# An international prefix starts a number; a + joined to a word (`q=patient+943…`) is a space.
_PHONE_BEFORE = re.compile(r"(?:(?:^|[^\w+])\+|\(0\)|\(\+\d{1,3}\))[\s\u00a0]*$")
# Labelled publication and research identifiers (an ISBN-10 even passes the NHS check).
_LABEL_BEFORE = re.compile(
    r"\b(?:ISBN(?:[\s\-]?1[03])?|ISSN|EAN|DOI|PMID|PMCID|ORCID|EudraCT|EU[\s\-]?CT|CTIS|ISRCTN"
    r"|NCT|IRAS)(?:\s*(?:number|no\.?|id))?[\s:#]*$",
    re.IGNORECASE,
)
_MONEY_BEFORE = re.compile(r"[£$€][\s\u00a0]*$")
_DOI = re.compile(r"\b10\.\d{4,9}/\S+")
_GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)
_DECIMAL = re.compile(r"(?<!\d)(?:\d{5,}\.\d+|\d+\.\d{5,})(?!\d)")  # e.g. 1700000004.000100
_TIME = re.compile(r"(?<!\d)\d{1,2}:\d{2}(?::\d{2})?(?!\d)")
_DAY_FIRST = re.compile(r"(?<!\d)(\d{1,2})([./\- \u00a0])(\d{1,2})\2((?:19|20)\d{2})(?!\d)")
_YEAR_FIRST = re.compile(r"(?<!\d)((?:19|20)\d{2})([./\-])(\d{1,2})\2(\d{1,2})(?!\d)")

_DATE = (
    r"(?:\d{1,2}[/.\-\u2010-\u2015\u2212]\d{1,2}[/.\-\u2010-\u2015\u2212]\d{2,4}"
    r"|\d{1,2}(?:st|nd|rd|th)?\s+(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?"
    r"\s+\d{4}|\d{4}-\d{2}-\d{2})"
)
_DOB = re.compile(
    r"\b(?:d\.?o\.?b\.?|date\s+of\s+birth|born(?:\s+on)?)\s*[:\-]?\s*" + _DATE, re.IGNORECASE
)
_HOSPITAL_NUMBER = re.compile(
    r"\b(?:MRN|hospital\s+(?:number|no\.?)|RXR|unit\s+number)\s*[:#]?\s*[A-Z]{0,3}\d{5,10}\b",
    re.IGNORECASE,
)


def nhs_check_digit_ok(digits: str) -> bool:
    """True if ten digits carry a valid NHS Modulus 11 check digit."""
    if len(digits) != 10 or not digits.isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(digits[:9], range(10, 1, -1), strict=True))
    check = 11 - total % 11
    if check == 11:
        check = 0
    return check != 10 and check == int(digits[9])


def _is_date(day: str, month: str, year: str) -> bool:
    try:
        dt.date(int(year), int(month), int(day))
    except ValueError:
        return False
    return True


def _not_identifiers(text: str) -> list[tuple[int, int]]:
    """Spans holding digits that are something else: DOIs, GUIDs, decimals, times, dates."""
    spans = [m.span() for m in _DOI.finditer(text)]
    spans += [m.span() for m in _GUID.finditer(text)]  # Teams and Entra ids in form values
    spans += [m.span() for m in _DECIMAL.finditer(text)]
    spans += [m.span() for m in _TIME.finditer(text)]
    spans += [m.span() for m in _DAY_FIRST.finditer(text) if _is_date(m[1], m[3], m[4])]
    spans += [m.span() for m in _YEAR_FIRST.finditer(text) if _is_date(m[4], m[3], m[1])]
    return spans


def _blank(match: re.Match[str]) -> str:
    """An encoded separator read as blanks of the same length, so positions still match."""
    return " " * len(match[0])


def _runs(text: str) -> list[list[re.Match[str]]]:
    """Digit groups joined only by separators: the candidates for one written number."""
    text = _ENTITY.sub(_blank, _PERCENT.sub(_blank, text))
    exempt = bytearray(len(text))  # 1 where a digit belongs to something else
    for a, b in _not_identifiers(text):
        exempt[a:b] = b"\x01" * (b - a)
    runs: list[list[re.Match[str]]] = []
    run: list[re.Match[str]] = []
    for group in _DIGITS.finditer(text):
        if exempt[group.start()]:
            if run:
                runs.append(run)
            run = []
            continue
        if run:
            prev = run[-1]
            gap = text[prev.end() : group.start()]
            if not _GAP.fullmatch(gap):
                runs.append(run)
                run = []
        run.append(group)
    if run:
        runs.append(run)
    return runs


def _something_else(text: str, run: list[re.Match[str]]) -> bool:
    """A run that is a phone number, a labelled ISBN or trial number, or money."""
    before = text[max(0, run[0].start() - 24) : run[0].start()]
    if _PHONE_BEFORE.search(before) or _LABEL_BEFORE.search(before):
        return True
    if _MONEY_BEFORE.search(before):
        return True
    digits = "".join(g[0] for g in run)
    return len(digits) == 13 and digits[:3] in ("978", "979")  # an ISBN-13 / EAN


def nhs_number_spans(text: str) -> list[tuple[int, int]]:
    """Where NHS numbers (ten digits, valid check digit, any separators) are in the text."""
    if sum(map(str.isdigit, text)) < 10:  # most messages: nothing to look for
        return []
    spans: list[tuple[int, int]] = []
    for run in _runs(text):
        if sum(len(g[0]) for g in run) < 10 or _something_else(text, run):
            continue
        for i in range(len(run)):
            digits = ""
            for j in range(i, len(run)):
                digits += run[j][0]
                if len(digits) >= 10:
                    if len(digits) == 10 and nhs_check_digit_ok(digits):
                        spans.append((run[i].start(), run[j].end()))
                    break
    spans.sort()
    merged: list[tuple[int, int]] = []
    for start, end in spans:  # overlapping readings: remove every digit of each
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


@dataclass(frozen=True)
class Guarded:
    """Text after the guard, and what it removed (kinds, for telling the person)."""

    text: str
    removed: tuple[str, ...]

    @property
    def changed(self) -> bool:
        """True when anything was removed."""
        return bool(self.removed)

    def notice(self) -> str:
        """What to tell the person, or an empty string."""
        if not self.removed:
            return ""
        kinds = ", ".join(sorted(set(self.removed)))
        return notice_for(kinds)


_NOTICE_HEAD = "I removed what looked like patient-identifiable data"


def notice_for(kinds: str) -> str:
    """The sentence telling a person what was removed."""
    return (
        f"{_NOTICE_HEAD} ({kinds}) before saving. "
        "kmb is not a clinical record: please never share patient details here."
    )


def visible_notice(text: str) -> bool:
    """True if the text already tells the person that something was removed."""
    return _NOTICE_HEAD in text


_KINDS = {
    NHS_NUMBER_MARK: "an NHS number",
    DOB_MARK: "a date of birth",
    HOSPITAL_NUMBER_MARK: "a hospital number",
}


def guard(text: str) -> Guarded:
    """Redact NHS numbers (valid check digit), date-of-birth phrases and hospital numbers."""
    removed: list[str] = []

    def _mark(kind: str, mark: str) -> Callable[[re.Match[str]], str]:
        def _sub(_match: re.Match[str]) -> str:
            removed.append(kind)
            return mark

        return _sub

    out = text
    for start, end in reversed(nhs_number_spans(text)):
        out = out[:start] + NHS_NUMBER_MARK + out[end:]
        removed.append(_KINDS[NHS_NUMBER_MARK])
    out = _DOB.sub(_mark(_KINDS[DOB_MARK], DOB_MARK), out)
    out = _HOSPITAL_NUMBER.sub(_mark(_KINDS[HOSPITAL_NUMBER_MARK], HOSPITAL_NUMBER_MARK), out)
    return Guarded(out, tuple(removed))


@functools.lru_cache(maxsize=4096)
def redact(text: str) -> str:
    """The text with every patient identifier replaced by its marker.

    Remembered for the most recent texts: the storage door redacts every string of every reply
    kmb queues, and most are the same help and catalogue text turn after turn.
    """
    return guard(text).text


def visible_length(text: str) -> int:
    """The length a person is held to: the guard's markers are not counted against them."""
    return len(_MARK.sub("", text))


def fit(text: str, limit: int | None) -> str:
    """Redacted text that fits `limit` characters, losing none of the person's words if it can.

    Markers are swapped for their compact forms first; since each compact form is no longer
    than anything it replaces, text that met the limit before redaction still meets it. Only
    text that was already too long is cut, at the end of the person's words, keeping markers.
    """
    if not limit or len(text) <= limit:  # no limit, or within it
        return text
    for mark, compact in _COMPACT.items():
        text = text.replace(mark, compact)
    if len(text) <= limit:
        return text
    parts = re.split(f"({_MARK.pattern})", text)
    excess = len(text) - limit + 1  # room for the ellipsis
    for i in range(len(parts) - 1, -1, -1):
        if excess <= 0:
            break
        if i % 2 == 0 and parts[i]:  # the person's words, not a marker
            cut = min(excess, len(parts[i]))
            parts[i] = parts[i][: len(parts[i]) - cut]
            excess -= cut
    kept = "".join(parts)
    return (kept[: limit - 1] if len(kept) >= limit else kept) + "…"


def guard_inbound(inbound: Inbound) -> tuple[Inbound, str]:
    """What a person sent with identifiers removed, and the notice to give them (or "")."""
    removed: list[str] = []
    text = guard(inbound.text)
    removed += text.removed
    action = guard(inbound.action) if inbound.action else Guarded(inbound.action or "", ())
    removed += action.removed  # a button or shortcut can carry words (`librarian <message>`)
    values: dict[str, str] = {}
    for key, raw in inbound.value.items():
        value = guard(raw) if isinstance(raw, str) else Guarded(raw, ())
        values[key] = value.text
        removed += value.removed
    # Text guarded earlier (e.g. stored in an inbox before this turn) still earns the notice.
    said = [inbound.text, inbound.action or "", *(v for v in inbound.value.values())]
    removed += [kind for mark, kind in _KINDS.items() if any(mark in str(t) for t in said)]
    person = replace(inbound.person, display_name=redact(inbound.person.display_name))
    if not removed and person == inbound.person:
        return inbound, ""
    clean = replace(
        inbound,
        text=text.text,
        action=action.text if inbound.action else inbound.action,
        value=values,
        person=person,
    )
    return clean, notice_for(", ".join(sorted(set(removed)))) if removed else ""


def guard_reply(reply: Reply) -> Reply:
    """A reply with no identifier in any of its words: nothing kmb says can echo one."""
    return Reply(
        tuple(_guard_element(e) for e in reply.elements),
        summary=redact(reply.summary),
        errors=tuple((field, redact(message)) for field, message in reply.errors),
        public=reply.public,
    )


def _guard_input(i: Input) -> Input:
    return replace(i, label=redact(i.label), hint=redact(i.hint), initial=redact(i.initial))


def _guard_element(element: Element) -> Element:
    if isinstance(element, Text):
        return Text(redact(element.text))
    if isinstance(element, Facts):
        return Facts(tuple((redact(a), redact(b)) for a, b in element.pairs))
    if isinstance(element, Actions):
        return Actions(
            tuple(
                replace(b, label=redact(b.label), command=redact(b.command))
                for b in element.buttons
            )
        )
    if isinstance(element, Section):
        return Section(redact(element.title), tuple(_guard_element(e) for e in element.elements))
    if isinstance(element, Input):
        return _guard_input(element)
    return replace(
        element,
        title=redact(element.title),
        context=redact(element.context),
        inputs=tuple(_guard_input(i) for i in element.inputs),
    )
