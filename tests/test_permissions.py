"""Every privileged word is refused for the wrong role, with a clear message."""

import pytest

CASES = [
    # (words, role needed, roles that are refused)
    ("project new", "lead", ["member", "librarian"]),
    ("retro now falls", "lead", ["member", "librarian"]),
    ("retro digest falls", "lead", ["member", "librarian"]),
    ("claim ENQ-2026-0001", "librarian", ["member", "lead"]),
    ("note ENQ-2026-0001 x", "librarian", ["member", "lead"]),
    ("close ENQ-2026-0001", "librarian", ["member", "lead"]),
    ("admin librarian-channel", "admin", ["member", "lead", "librarian"]),
    ("admin grant admin console:me", "admin", ["member", "lead", "librarian"]),
    ("admin revoke lead console:me", "admin", ["member", "lead", "librarian"]),
]


@pytest.mark.parametrize(("words", "needed", "refused"), CASES)
async def test_privileged_words_refused(chat, words: str, needed: str, refused: list[str]) -> None:
    for i, role in enumerate(refused):
        out = await chat(f"{role}{i}", role=role).says(words)
        assert f"is for people with the {needed} role" in out, (words, role)
    allowed = await chat("boss", role=needed).says(words)
    assert "is for people with the" not in allowed


async def test_help_is_role_aware(chat) -> None:
    member = await chat("m").says("help")
    librarian = await chat("l", role="librarian").says("help")
    admin = await chat("a", role="admin").says("help")
    assert "`claim ENQ" not in member and "`claim ENQ-2026-0001`" in librarian
    assert "admin grant" in admin and "admin grant" not in librarian
    assert "patient-identifiable" in member


async def test_admin_grants_a_role_in_chat(chat) -> None:
    await chat("a", role="admin").says("admin grant librarian console:sam")
    assert "`claim ENQ-2026-0001`" in await chat("sam").says("help")


async def test_only_leads_are_offered_to_start_a_project_from_a_tool(chat) -> None:
    member, lead = chat("mo"), chat("lee", role="lead")
    need = "tool capture lessons from a finished project"
    assert "Use it with my team" not in await member.says(need)
    assert "Use it with my team" in await lead.says(need)
    steps = await member.says("tool steps after-action-review")
    assert "ask your project lead" in steps and "project new" not in steps


async def test_on_teams_a_project_team_is_people_kmb_can_reach(chat) -> None:
    lead = chat("lee", role="lead", platform="teams")
    await chat("bea", platform="teams").says("help")  # Bea has talked to kmb
    await lead.says("project new")
    values = {
        "name": "Falls",
        "start": "2026-11-23",
        "end": "2027-02-26",
        "members": "Bea, Priya Shah",
        "template": "aar",
    }
    refused = await lead.submits("project", values)
    assert "I don't know “Priya Shah” here yet" in refused and "“Bea”" not in refused
    assert "with 2 people" in await lead.submits("project", {**values, "members": "bea"})
