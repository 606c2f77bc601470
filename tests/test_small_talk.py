"""What people type that is not a command: thanks, plain requests, leaving the console."""

import io

from adapters import console


async def test_did_you_mean_offers_only_what_the_person_may_run(chat) -> None:
    ann = chat("ann")
    out = await ann.says("transfr")
    assert "`transfer`" not in out and "I didn't understand" in out
    lib = chat("lib", role="librarian")
    assert "Did you mean `transfer`" in await lib.says("transfr")


async def test_thanks_gets_a_friendly_answer_not_a_command(chat) -> None:
    ann = chat("ann")
    for said in ("thanks", "Thanks!", "thank you", "cheers"):
        out = await ann.says(said)
        assert "You're welcome" in out and "Did you mean" not in out


async def test_a_plain_request_for_evidence_is_steered_to_the_librarian(chat) -> None:
    out = await chat("ann").says("can you help me find evidence on sepsis?")
    assert "question for your library team" in out and "`librarian`" in out
    assert "[Ask a librarian]" in out or "Ask a librarian" in out


async def test_a_typo_of_a_command_is_not_taken_for_a_request(chat) -> None:
    out = await chat("ann").says("lesons about sepsis research")
    assert "Did you mean `lessons`" in out


async def test_quit_and_exit_leave_the_console(engine) -> None:
    for word in ("quit", "exit", "EXIT"):
        out = io.StringIO()
        await console.run(engine, "ann", io.StringIO(f"{word}\nhelp\n"), out)
        assert "Bye for now" in out.getvalue()
        assert "Find a technique" not in out.getvalue()  # nothing after leaving is read
