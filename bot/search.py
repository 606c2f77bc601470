"""Ranked text search (BM25 over weighted fields, light stemming, synonym expansion).

Pure Python with an inverted index: the catalogue is small and read-only, so an index built
once at start answers a query in well under a millisecond, with no database round trip.
"""

from __future__ import annotations

import heapq
import math
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

STOPWORDS = frozenset(
    [
        "a",
        "about",
        "after",
        "again",
        "all",
        "also",
        "am",
        "an",
        "and",
        "any",
        "are",
        "as",
        "at",
        "be",
        "been",
        "before",
        "being",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "doing",
        "done",
        "for",
        "from",
        "get",
        "got",
        "had",
        "has",
        "have",
        "having",
        "he",
        "her",
        "here",
        "him",
        "his",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "just",
        "let",
        "me",
        "more",
        "most",
        "my",
        "myself",
        "need",
        "needs",
        "no",
        "not",
        "now",
        "of",
        "off",
        "on",
        "once",
        "one",
        "only",
        "or",
        "our",
        "ours",
        "out",
        "over",
        "own",
        "really",
        "same",
        "she",
        "should",
        "so",
        "some",
        "something",
        "such",
        "than",
        "that",
        "the",
        "their",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "to",
        "too",
        "us",
        "very",
        "want",
        "wanted",
        "wants",
        "was",
        "way",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "whom",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
        "yours",
        "lot",
        "lots",
        "please",
        "help",
        "kmb",
        "tool",
        "tools",
        "thing",
        "things",
        "someone",
        "somebody",
        "anyone",
    ]
)

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_SUFFIXES = (
    "ational", "ization", "fulness", "ousness", "iveness", "ations", "ation", "ments", "ment",
    "ings", "ing", "ies", "ied", "ers", "er", "ed", "es", "ly", "s",
)  # fmt: skip


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """A light suffix-stripping stemmer: good enough to join 'debriefing' and 'debrief'."""
    word = word.removesuffix("'s")
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            word = word[: -len(suffix)]
            if suffix in ("ies", "ied"):
                word += "y"
            break
    if len(word) > 4 and word[-1] == word[-2] and word[-1] not in "ls":
        word = word[:-1]
    return word


def words(text: str) -> list[str]:
    """Lowercase word tokens of a text, stop words kept."""
    return _WORD.findall(text.lower().replace("’", "'"))


def terms(text: str) -> list[str]:
    """Stemmed content terms of a text (stop words dropped)."""
    return [stem(w) for w in words(text) if w not in STOPWORDS]


@dataclass(frozen=True)
class Hit:
    """A ranked document: its id, score and which query terms it matched."""

    doc_id: str
    score: float
    matched: frozenset[str]


class SynonymMap:
    """Groups of words and phrases meaning the same; a query phrase expands to its group."""

    def __init__(self, groups: Iterable[Sequence[str]]) -> None:
        # Phrases indexed by their first term, so a query only looks at phrases it could start.
        self._by_first: dict[str, list[tuple[tuple[str, ...], int]]] = defaultdict(list)
        self._groups: list[list[str]] = []
        for gi, group in enumerate(groups):
            stemmed = [tuple(terms(p)) for p in group]
            self._groups.append([t for phrase in stemmed for t in phrase])
            for phrase in stemmed:
                if phrase:
                    self._by_first[phrase[0]].append((phrase, gi))

    def expand(self, query_terms: Sequence[str]) -> list[str]:
        """Extra terms for a query: every member of each group a query phrase belongs to."""
        extra: list[str] = []
        seen: set[int] = set()
        for i, term in enumerate(query_terms):
            for phrase, gi in self._by_first.get(term, ()):
                if gi not in seen and tuple(query_terms[i : i + len(phrase)]) == phrase:
                    seen.add(gi)
                    extra.extend(self._groups[gi])
        return extra


class Index:
    """A BM25 index over documents made of weighted fields."""

    def __init__(
        self,
        docs: Mapping[str, Mapping[str, str]],
        weights: Mapping[str, float],
        synonyms: SynonymMap | None = None,
        k1: float = 1.2,
        b: float = 0.6,
    ) -> None:
        self.synonyms = synonyms or SynonymMap([])
        self.k1, self.b = k1, b
        self._tf: dict[str, dict[str, float]] = defaultdict(dict)
        self._len: dict[str, float] = {}
        for doc_id, fields in docs.items():
            counts: dict[str, float] = defaultdict(float)
            for name, text in fields.items():
                weight = weights.get(name, 1.0)
                for term in terms(text):
                    counts[term] += weight
            self._len[doc_id] = sum(counts.values())
            for term, tf in counts.items():
                self._tf[term][doc_id] = tf
        n = max(len(docs), 1)
        self._avg = sum(self._len.values()) / n if docs else 1.0
        # BM25's length normalisation per document, worked out once rather than per query.
        self._norm = {d: k1 * (1 - b + b * n_len / self._avg) for d, n_len in self._len.items()}
        self._idf = {
            t: math.log(1 + (n - len(p) + 0.5) / (len(p) + 0.5)) for t, p in self._tf.items()
        }

    def search(self, query: str, limit: int = 3, expansion_weight: float = 0.5) -> list[Hit]:
        """The best `limit` documents for a query, best first."""
        q_terms = terms(query)
        weighted: dict[str, float] = dict.fromkeys(q_terms, 1.0)
        for t in self.synonyms.expand(q_terms):
            weighted.setdefault(t, expansion_weight)
        scores: dict[str, float] = defaultdict(float)
        k1, norm = self.k1, self._norm
        for term, qw in weighted.items():
            postings = self._tf.get(term)
            if not postings:
                continue
            weight = qw * self._idf[term] * (k1 + 1)
            for doc_id, tf in postings.items():
                scores[doc_id] += weight * tf / (tf + norm[doc_id])
        ranked = heapq.nsmallest(limit, scores.items(), key=lambda kv: (-kv[1], kv[0]))
        # Which terms matched is only needed for the few documents returned.
        return [
            Hit(d, s, frozenset(t for t in weighted if d in self._tf.get(t, {})))
            for d, s in ranked
        ]
