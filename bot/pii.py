"""The PII guard: free text is checked for patient identifiers before it is stored."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

NHS_NUMBER_MARK = "[NHS number removed]"
DOB_MARK = "[date of birth removed]"
HOSPITAL_NUMBER_MARK = "[hospital number removed]"

# Ten digits together, or 3-3-4 with one consistent separator (space or dash).
_NHS_NUMBER = re.compile(r"(?<![\d-])(\d{3})([ -]?)(\d{3})\2(\d{4})(?![\d-])")
_DATE = (
    r"(?:\d{1,2}[/.\-]\d{1,2}[/.\-]\d{2,4}"
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
        return (
            f"I removed what looked like patient-identifiable data ({kinds}) before saving. "
            "kmb is not a clinical record: please never share patient details here."
        )


def guard(text: str) -> Guarded:
    """Redact NHS numbers (valid check digit), date-of-birth phrases and hospital numbers."""
    removed: list[str] = []

    def _nhs(match: re.Match[str]) -> str:
        digits = match.group(1) + match.group(3) + match.group(4)
        if nhs_check_digit_ok(digits):
            removed.append("an NHS number")
            return NHS_NUMBER_MARK
        return match.group(0)

    def _mark(kind: str, mark: str) -> Callable[[re.Match[str]], str]:
        def _sub(_match: re.Match[str]) -> str:
            removed.append(kind)
            return mark

        return _sub

    out = _NHS_NUMBER.sub(_nhs, text)
    out = _DOB.sub(_mark("a date of birth", DOB_MARK), out)
    out = _HOSPITAL_NUMBER.sub(_mark("a hospital number", HOSPITAL_NUMBER_MARK), out)
    return Guarded(out, tuple(removed))
