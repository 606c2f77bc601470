"""The tool finder: measured against needs phrased the way clinicians phrase them."""

import os
import subprocess
import sys
from pathlib import Path

import yaml

from bot.content import load_catalogue
from bot.features.finder import ToolFinder

NEEDS = yaml.safe_load((Path(__file__).parent / "data" / "tool_needs.yaml").read_text())["needs"]


def test_labelled_set_is_big_enough_and_valid() -> None:
    tools = load_catalogue().tools
    assert len(NEEDS) >= 40
    assert all(slug in tools for need in NEEDS for slug in need["accept"])


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
