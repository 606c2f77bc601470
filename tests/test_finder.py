"""The tool finder: measured against needs phrased the way clinicians phrase them."""

import os
import subprocess
import sys
from pathlib import Path

import yaml

from bot.content import load_catalogue
from bot.features.tools.finder import ToolFinder

DATA = Path(__file__).parent / "data"
NEEDS = yaml.safe_load((DATA / "tool_needs.yaml").read_text())["needs"]
# Written before tuning and never tuned on (see its header); reported apart by
# scripts/finder_rates.py.
HELD_OUT = yaml.safe_load((DATA / "tool_needs_heldout.yaml").read_text())["needs"]


def test_labelled_set_is_big_enough_and_valid() -> None:
    tools = load_catalogue().tools
    assert len(NEEDS) >= 40 and len(HELD_OUT) >= 30
    assert all(slug in tools for need in NEEDS + HELD_OUT for slug in need["accept"])
    assert not {n["need"] for n in NEEDS} & {n["need"] for n in HELD_OUT}


def test_held_out_top3_hit_rate_is_at_least_eighty_five_percent() -> None:
    """A floor for needs the finder was not shaped around (90% before issue 12's tuning)."""
    finder = ToolFinder(load_catalogue())
    hits = sum(
        1 for n in HELD_OUT if {s.tool.slug for s in finder.find(n["need"])} & set(n["accept"])
    )
    assert hits / len(HELD_OUT) >= 0.85


def test_top3_hit_rate_is_at_least_ninety_percent() -> None:
    finder = ToolFinder(load_catalogue())
    misses = [
        n["need"]
        for n in NEEDS
        if not {s.tool.slug for s in finder.find(n["need"])} & set(n["accept"])
    ]
    rate = 1 - len(misses) / len(NEEDS)
    assert rate >= 0.9, f"hit rate {rate:.2f}; misses: {misses}"


async def test_tool_answers_with_three_tools_why_time_and_first_step(chat) -> None:
    out = await chat("ann").says("tool someone key on our ward is retiring next month")
    assert out.count("First step:") == 3
    assert "Time:" in out and "Group:" in out
    assert "Knowledge Harvesting" in out or "Elicitation interview" in out
    assert "tool steps" in out and "librarian" in out


async def test_nothing_fits_offers_a_librarian(chat) -> None:
    out = await chat("ann").says("tool zxqv blorf")
    assert "Nothing in the catalogue fits" in out and "librarian" in out


async def test_tools_lists_the_catalogue_by_phase(chat, catalogue) -> None:
    out = await chat("ann").says("tools")
    for title in ("Learning before", "Learning during", "Learning after", "Any time"):
        assert title in out
    assert all(t.name in out for t in catalogue.tools.values())


async def test_tool_steps_shows_numbered_steps_and_source(chat, catalogue) -> None:
    out = await chat("ann").says("tool steps peer-assist")
    tool = catalogue.tools["peer-assist"]
    assert f"1. {tool.steps[0]}" in out and str(tool.source) in out


def test_console_pipe_names_retrospect_or_aar(tmp_path: Path) -> None:
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'k.db'}"}
    done = subprocess.run(
        [sys.executable, "-m", "bot", "chat"],
        input="tool I want to capture lessons from a finished project\n",
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=60,
    )
    assert "Retrospect" in done.stdout or "After Action Review" in done.stdout


async def test_a_shift_handover_is_not_a_leavers_handover(chat, catalogue) -> None:
    out = await chat("ann").says(
        "tool our handovers between night and day shift keep dropping things"
    )
    assert catalogue.tools["knowledge-retention-leavers"].name not in out
    assert "After Action Review" in out
    leaving = await chat("bob").says("tool I'm leaving next month and need to write a handover")
    assert catalogue.tools["knowledge-retention-leavers"].name in leaving


async def test_a_change_that_went_badly_without_blame_finds_a_review(chat) -> None:
    out = await chat("ann").says(
        "tool the new rota went badly, we want to talk about it without blaming anyone"
    )
    assert "After Action Review" in out or "Retrospect" in out


async def test_steps_is_only_tool_steps_when_a_tool_is_named(chat) -> None:
    ann = chat("ann")
    out = await ann.says("tool steps to take before a big project starts")
    assert "Tools that fit" in out and "Before Action Review" in out
    assert "I don't know a tool" not in await ann.says("tool stepsister")
    assert "1. " in await ann.says("tool steps peer assist")  # a name with spaces works too
    assert "Which tool?" in await ann.says("tool steps")
