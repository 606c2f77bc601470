"""Tool finder hit rates on the tuned and the held-out labelled needs, reported apart.

    python scripts/finder_rates.py [--misses]

The tuned set (tests/data/tool_needs.yaml) is what the finder's content was shaped around; the
held-out set (tests/data/tool_needs_heldout.yaml) was written before tuning and is never tuned on.
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

from bot.content import load_catalogue
from bot.features.tools.finder import ToolFinder

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"
SETS = {"tuned": "tool_needs.yaml", "held-out": "tool_needs_heldout.yaml"}


def rates(finder: ToolFinder, needs: list[dict[str, object]]) -> tuple[float, float, list[str]]:
    """Top-1 and top-3 hit rates, and the needs missed in the top 3."""
    top1 = top3 = 0
    misses: list[str] = []
    for n in needs:
        accept = set(n["accept"])  # type: ignore[call-overload]
        found = [s.tool.slug for s in finder.find(str(n["need"]))]
        top1 += bool(found[:1] and found[0] in accept)
        if accept & set(found[:3]):
            top3 += 1
        else:
            misses.append(f"{n['need']} -> {found}")
    return top1 / len(needs), top3 / len(needs), misses


def main() -> None:
    """Print each set's rates (and misses with --misses)."""
    finder = ToolFinder(load_catalogue())
    for label, name in SETS.items():
        needs = yaml.safe_load((DATA / name).read_text())["needs"]
        one, three, misses = rates(finder, needs)
        print(f"{label:9} n={len(needs):3}  top-1 {one:.0%}  top-3 {three:.0%}")
        if "--misses" in sys.argv:
            for m in misses:
                print("   miss:", m)


if __name__ == "__main__":
    main()
