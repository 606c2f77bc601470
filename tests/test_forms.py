"""Step-by-step forms as a person meets them: commands stay commands, Enter keeps what is there."""

from tests.test_enquiries import ENQUIRY, _ask
from tests.test_retros import ANSWERS, _project


async def test_the_first_message_of_a_form_says_the_rule(chat) -> None:
    out = await chat("ann").says("librarian")
    assert "A command alone on a line (such as `help`) runs that command" in out
    assert 'put it in quotes ("help")' in out


async def test_help_mid_retro_shows_help_and_is_not_saved(chat) -> None:
    lead = chat("lea", role="lead")
    await _project(lead)
    await lead.says("retro now 1")
    bea = chat("bea")
    assert "(1/8)" in await bea.says("retro")
    await bea.says(ANSWERS[0])
    out = await bea.says("help")
    assert "Find a technique" in out  # help itself
    assert "`help` was not saved as an answer" in out and "(2/8)" in out
    await bea.says(ANSWERS[1])
    assert "(4/8)" in await bea.says('"help"')  # quoted: an answer, taken literally
    for line in [*ANSWERS[3:], "no", "yes"]:
        await bea.says(line)
    digest = await lead.says("retro digest 1")
    assert "— Bea: help" in digest and "— Bea: Find a technique" not in digest
    assert '— Bea: "help"' not in digest


async def test_retro_typed_mid_retro_starts_it_again_and_is_never_a_lesson(chat) -> None:
    lead = chat("lea", role="lead")
    await _project(lead)
    await lead.says("retro now 1")
    bea = chat("bea")
    await bea.says("retro")
    out = await bea.says("retro")
    assert "You left *Retrospect: Falls pilot* to run `retro`" in out
    assert "(1/8)" in out
    for line in [*ANSWERS, "no", "yes"]:
        await bea.says(line)
    digest = await lead.says("retro digest 1")
    assert "— Bea: retro" not in digest and "— retro" not in digest
    assert f"— Bea: {ANSWERS[0]}" in digest


async def test_quoted_form_words_are_answers_too(chat) -> None:
    ann = chat("ann")
    await _ask(ann, [ENQUIRY[0], '"skip"', *ENQUIRY[2:]])  # PICO answered with the word itself
    shown = await ann.says("enquiry ENQ-2026-0001")
    assert "PICO: skip" in shown


async def test_a_command_someone_may_not_run_is_an_ordinary_answer(chat) -> None:
    ann = chat("ann")
    await ann.says("librarian")
    assert "(2/12)" in await ann.says("transfer")  # librarians' word; to ann just words


async def test_enter_keeps_a_remembered_role_team_and_organisation(chat) -> None:
    ann = chat("ann")
    await _ask(ann)  # remembers Physiotherapist, Trauma and orthopaedics, Example NHS FT
    again = [ENQUIRY[0].replace("hip", "knee"), *ENQUIRY[1:9]]
    out = await _ask(ann, again)
    assert "Your answer so far: Physiotherapist" in out
    assert "Press Enter or type `skip` to keep it" in out
    await ann.says("")
    await ann.says("skip")
    out = await ann.says("")
    assert "ENQ-2026-0002" in out
    lib = chat("lib", role="librarian")
    shown = await lib.says("enquiry ENQ-2026-0002")
    assert "Physiotherapist, Trauma and orthopaedics, Example NHS Foundation Trust" in shown
    third = await _ask(ann, ENQUIRY[:9])  # and the profile is still there next time
    assert "Your answer so far: Physiotherapist" in third


async def test_enter_on_a_needed_question_asks_again(chat) -> None:
    ann = chat("ann")
    await ann.says("librarian")
    assert "This one is needed" in await ann.says("")
    assert "can't be skipped" in await ann.says("skip")
