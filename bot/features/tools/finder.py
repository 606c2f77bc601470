"""Find a tool: rank the catalogue against what a person needs, and say why each fits."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.content import Catalogue, Tool
from bot.search import Index, SynonymMap, terms

FIELD_WEIGHTS = {"name": 3.0, "synonyms": 2.0, "situations": 1.5, "purpose": 1.0, "when": 0.5}
# Below this share of the person's own words matched by the best tool, nothing fits well.
MIN_COVERAGE = 0.2


@dataclass(frozen=True)
class Suggestion:
    """A tool suggested for a need, with the phrase that made it fit."""

    tool: Tool
    score: float
    why: str


# "Handover" alone means a leaver handing over their role; beside words about shifts, patients or
# safety it means passing patients between shifts: a team's routine to review, not a leaver's
# knowledge to keep. Such a need is searched with the shift in place of the handover.
HANDOVER = re.compile(r"\b(?:handovers?|hand(?:ing)? over|handing-over)\b")
SHIFT = re.compile(
    r"\b(?:shifts?|nights?|day shift|ward rounds?|board rounds?|huddles?|"
    r"safe|safer|safety|patients?|clinical)\b"
)
LEAVING = re.compile(
    r"\b(?:leav\w*|leaver\w*|retir\w*|resign\w*|notice|successor|maternity|"
    r"new (?:post|job|role)|moving (?:post|on|role))\b"
)


def shift_sense(need: str) -> str:
    """A need about shift handovers, with the leaver's sense of "handover" taken out."""
    low = need.lower()
    if HANDOVER.search(low) and SHIFT.search(low) and not LEAVING.search(low):
        return HANDOVER.sub("shift", low)
    return need


class ToolFinder:
    """Ranks tools for a free-text need."""

    def __init__(self, catalogue: Catalogue) -> None:
        self.tools = catalogue.tools
        # Each tool's phrases with their terms, worked out once for `_why`.
        self._phrases = {
            slug: [(p, frozenset(terms(p))) for p in [*t.situations, *t.synonyms]]
            for slug, t in catalogue.tools.items()
        }
        self.index = Index(
            {
                slug: {
                    "name": t.name,
                    "synonyms": " . ".join(t.synonyms),
                    "situations": " . ".join(t.situations),
                    "purpose": t.purpose,
                    "when": t.when,
                }
                for slug, t in catalogue.tools.items()
            },
            FIELD_WEIGHTS,
            SynonymMap(catalogue.synonyms),
        )

    def find(self, need: str, limit: int = 3) -> list[Suggestion]:
        """The best tools for a need; empty when nothing fits well."""
        need = shift_sense(need)
        own = set(terms(need))
        if not own:
            return []
        hits = self.index.search(need, limit=limit)
        if not hits or (
            len(own & hits[0].matched) / len(own) < MIN_COVERAGE and not (hits[0].matched - own)
        ):
            return []
        return [
            Suggestion(self.tools[h.doc_id], h.score, self._why(self.tools[h.doc_id], need))
            for h in hits
        ]

    def _why(self, tool: Tool, need: str) -> str:
        """The tool's situation closest to the need, in the tool's own words."""
        want = set(terms(need))
        best, best_overlap = tool.purpose, 0
        for phrase, phrase_terms in self._phrases[tool.slug]:
            overlap = len(want & phrase_terms)
            if overlap > best_overlap:
                best, best_overlap = phrase, overlap
        if best_overlap == 0:
            return tool.purpose
        return f"for when “{best}” — {tool.purpose[0].lower()}{tool.purpose[1:]}"
