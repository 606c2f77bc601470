"""Every shipped content file loads; broken content is reported as `file: field: problem`."""

import shutil
import subprocess
import sys
from pathlib import Path

from bot.content import load_catalogue
from bot.content.loader import PACKAGED
from kmb.cli import main

NHS_TOOLKIT = {
    "self-assessment", "peer-assist", "before-action-review", "appreciative-inquiry",
    "after-action-review", "knowledge-cafe", "randomised-coffee-trials",
    "communities-of-practice", "action-learning-sets", "knowledge-assets", "fishbowl",
    "knowledge-harvesting", "retrospect",
}  # fmt: skip
EXTRAS = {
    "elicitation-interview",
    "knowledge-retention-leavers",
    "premortem",
    "storytelling",
    "evidence-search",
    "current-awareness",
}


def test_every_shipped_file_loads() -> None:
    cat = load_catalogue()
    assert set(cat.tools) >= NHS_TOOLKIT | EXTRAS
    assert {"aar", "retrospect", "bar", "checkin", "leaver-handover"} <= set(cat.templates)
    knowvember = cat.campaigns["knowvember"]
    assert len(knowvember.prompts) >= 20 and knowvember.month == 11
    assert len(list((PACKAGED / "tools").glob("*.yaml"))) == len(cat.tools)


def test_templates_carry_the_standard_questions() -> None:
    cat = load_catalogue()
    assert len(cat.templates["aar"].questions) == 5
    retro_kinds = [q.kind for q in cat.templates["retrospect"].questions]
    assert "scale" in retro_kinds and len(retro_kinds) == 6
    assert all(t.tool in cat.tools for t in cat.templates.values())


def test_evidence_tools_lead_to_the_librarian() -> None:
    cat = load_catalogue()
    assert cat.tools["evidence-search"].start_action == "librarian"


def test_content_check_reports_file_field_and_problem(tmp_path: Path, capsys) -> None:
    broken = tmp_path / "content"
    shutil.copytree(PACKAGED, broken)
    (broken / "tools" / "fishbowl.yaml").write_text(
        (broken / "tools" / "fishbowl.yaml").read_text().replace("steps:", "stepz:")
    )
    (broken / "templates" / "aar.yaml").write_text("slug: aar\nname: [unclosed\n")
    assert main(["content", "check", "--dir", str(broken)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert "tools/fishbowl.yaml: steps: Field required" in out
    assert "tools/fishbowl.yaml: stepz: Extra inputs are not permitted" in out
    assert any(line.startswith("templates/aar.yaml: (file): not valid YAML") for line in out)


def test_content_check_passes_on_shipped_content() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bot", "content", "check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "content ok" in done.stdout
