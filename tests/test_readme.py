"""The README and docs are instructions for any machine: no one's home folder, real commands."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from kmb.cli import _parser

ROOT = Path(__file__).parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md")), ROOT / "Procfile"]
SCRIPTS = sorted((ROOT / "scripts").glob("*.py")) + sorted((ROOT / "bench").glob("*.py"))
# Folders that exist on one developer's machine, never on a trust's server.
MACHINE = re.compile(r"(/work/|/home/\w|/Users/\w|/root/|[A-Z]:\\\\|/tmp/kmb)")


@pytest.mark.parametrize("path", DOCS + SCRIPTS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_no_path_of_a_particular_machine(path: Path) -> None:
    found = [line for line in path.read_text().splitlines() if MACHINE.search(line)]
    assert found == []


def _kmb_commands(text: str) -> list[list[str]]:
    """Every `kmb …` command line in code spans and blocks, as arguments."""
    commands = []
    for line in re.findall(r"(?:bin/kmb|^\w+: kmb) ([a-z][^`\n|;&>]*)", text, re.M):
        words = shlex.split(line.split(" #")[0].replace("$PORT", "3978"))
        words = [w for w in words if not w.startswith("<")]
        commands.append(words)
    return commands


def test_every_kmb_command_in_the_production_section_and_procfile_parses() -> None:
    readme = (ROOT / "README.md").read_text()
    production = readme.split("## Running in production", 1)[1].split("\n## ", 1)[0]
    commands = _kmb_commands(production) + _kmb_commands((ROOT / "Procfile").read_text())
    assert len(commands) >= 6
    for words in commands:
        try:
            _parser().parse_args(words)
        except SystemExit as exc:  # argparse refuses: the README names a flag kmb lacks
            raise AssertionError(f"kmb {' '.join(words)}") from exc
