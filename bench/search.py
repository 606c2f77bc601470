"""Tool-finder quality and speed: hit rate on the labelled needs, latency on real and 1,000 tools.

Run: python bench/search.py
"""

from __future__ import annotations

import random
import statistics
import time
from pathlib import Path

import yaml

from bot.content import Catalogue, load_catalogue
from bot.content.models import Tool
from bot.features.tools.finder import ToolFinder

NEEDS = yaml.safe_load(
    (Path(__file__).resolve().parent.parent / "tests" / "data" / "tool_needs.yaml").read_text()
)["needs"]


def _latencies(finder: ToolFinder, queries: list[str], rounds: int) -> list[float]:
    out = []
    for _ in range(rounds):
        for q in queries:
            t0 = time.perf_counter()
            finder.find(q)
            out.append((time.perf_counter() - t0) * 1000)
    return out


def _synthetic(cat: Catalogue, n: int) -> Catalogue:
    """n tools made by recombining the real catalogue's vocabulary (deterministic)."""
    rng = random.Random(42)
    real = list(cat.tools.values())
    vocab = sorted({w for t in real for s in t.situations for w in s.split()})
    tools = {}
    for i in range(n):
        base = real[i % len(real)]
        slug = f"{base.slug}-{i}"
        situations = [" ".join(rng.sample(vocab, 9)) for _ in range(8)]
        tools[slug] = Tool.model_validate(
            {
                **base.model_dump(),
                "slug": slug,
                "name": f"{base.name} {i}",
                "situations": situations,
                "related": [],
            }
        )
    return Catalogue(
        tools=tools, templates=cat.templates, campaigns=cat.campaigns, synonyms=cat.synonyms
    )


def _report(label: str, lat: list[float]) -> None:
    lat = sorted(lat)
    p50 = statistics.median(lat)
    p99 = lat[int(len(lat) * 0.99) - 1]
    print(f"{label:<28} n={len(lat):>6}  p50={p50:.3f} ms  p99={p99:.3f} ms")


def main() -> None:
    """Print hit rate and latency figures."""
    cat = load_catalogue()
    finder = ToolFinder(cat)
    hits = sum(
        bool({s.tool.slug for s in finder.find(n["need"])} & set(n["accept"])) for n in NEEDS
    )
    print(f"top-3 hit rate: {hits}/{len(NEEDS)} = {hits / len(NEEDS):.3f}")
    queries = [n["need"] for n in NEEDS]
    _report(f"real catalogue ({len(cat.tools)} tools)", _latencies(finder, queries, 20))
    big = ToolFinder(_synthetic(cat, 1000))
    _report("synthetic 1,000 tools", _latencies(big, queries, 10))


if __name__ == "__main__":
    main()
