"""An enquiry's facts as people read them: labels, the fact list and names.

Shared by the enquiry form, its card, the desk and the hand-off's mail, which must not import
the enquiry feature itself (it imports the hand-off).
"""

from __future__ import annotations

from sqlmodel import Session

from bot.content.models import PURPOSES
from bot.store.models import Enquiry, Person

OUTPUTS = (
    ("reference-list", "A reference list with abstracts"),
    ("evidence-summary", "An evidence summary"),
    ("search-strategy", "The search strategy"),
    ("conversation", "A conversation with a librarian"),
)
PURPOSE_LABEL = dict(PURPOSES)
STATUS_LABEL = {
    "new": "Waiting for a librarian",
    "claimed": "With a librarian",
    "closed": "Closed",
}
OUTPUT_LABEL = dict(OUTPUTS)


def fact_pairs(e: Enquiry) -> tuple[tuple[str, str], ...]:
    pairs = [
        ("Reference", e.reference),
        ("Priority", "PATIENT CARE — priority" if e.patient_decision else "Normal"),
        ("Purpose", PURPOSE_LABEL.get(e.purpose, e.purpose)),
        ("Deadline", e.deadline.strftime("%a %d %b %Y")),
        ("Output", OUTPUT_LABEL.get(e.output, e.output)),
        ("Status", STATUS_LABEL.get(e.status, e.status)),
    ]
    return tuple(pairs)


def name_of(s: Session, person_id: int | None) -> str:
    person = s.get(Person, person_id) if person_id else None
    return person.display_name if person else "(deleted)"
