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
