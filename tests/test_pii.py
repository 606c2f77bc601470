"""The PII guard: NHS numbers with a valid Modulus 11 check digit, DOBs and hospital numbers."""

import random

from bot.pii import NHS_NUMBER_MARK, guard, nhs_check_digit_ok


def _with_check_digit(nine: str) -> str | None:
    total = sum(int(d) * w for d, w in zip(nine, range(10, 1, -1), strict=True))
    check = (11 - total % 11) % 11
    return None if check == 10 else nine + str(check)


def _valid_test_numbers(n: int) -> list[str]:
    rng = random.Random(7)
    out: list[str] = []
    while len(out) < n:
        number = _with_check_digit("999" + f"{rng.randrange(10**6):06d}")
        if number:
            out.append(number)
    return out


def test_worked_example_and_generated_numbers() -> None:
    assert nhs_check_digit_ok("9434765919")
    assert not nhs_check_digit_ok("9434765918")
    for number in _valid_test_numbers(200):
        assert nhs_check_digit_ok(number)
        wrong = number[:9] + str((int(number[9]) + 1) % 10)
        assert not nhs_check_digit_ok(wrong)


def test_every_written_form_is_redacted() -> None:
    for number in _valid_test_numbers(20):
        for written in (
            number,
            f"{number[:3]} {number[3:6]} {number[6:]}",
            f"{number[:3]}-{number[3:6]}-{number[6:]}",
        ):
            out = guard(f"patient {written} seen today")
            assert out.text == f"patient {NHS_NUMBER_MARK} seen today", written
            assert "NHS number" in out.notice()


def test_invalid_numbers_and_other_digits_are_left_alone() -> None:
    text = "call 9434765918 or extension 01234 567890; budget 1234567890 pounds"
    assert not nhs_check_digit_ok("1234567890")
    assert guard(text).text == text
    assert not guard("see you at 10:30 on ward 7").changed


def test_date_of_birth_and_hospital_numbers() -> None:
    out = guard("Mrs X, DOB 12/03/1954, MRN 12345678, born on 3 March 1950")
    assert "12/03/1954" not in out.text and "12345678" not in out.text
    assert "1950" not in out.text
    assert set(out.removed) == {"a date of birth", "a hospital number"}
    assert not guard("the audit ran from 12/03/2024 to 30/04/2024").changed


async def test_answers_are_redacted_before_they_are_stored(chat) -> None:
    ann = chat("ann")
    out = await ann.says("librarian Management of 999 000 0018 after a fall?")
    assert "patient-identifiable" in out
    out = await ann.says("cancel")
    await ann.says("librarian is 9990000018 fine")
    from sqlmodel import select

    from bot.store.models import Dialog

    with ann.engine.store.session() as s:
        state = s.exec(select(Dialog)).one().state
    assert state["values"]["question"] == f"is {NHS_NUMBER_MARK} fine"


# --- the corpora (tests/data, tests/pii_corpus.py) ------------------------------------------

CORPUS_NUMBERS = 200  # 5 known examples + seeded random valid numbers over the whole range


def test_every_written_form_of_every_corpus_number_is_redacted() -> None:
    from tests.pii_corpus import find_nhs_numbers, valid_numbers, written_forms

    cases = [f for n in valid_numbers(CORPUS_NUMBERS) for f in written_forms(n)]
    assert len(cases) == CORPUS_NUMBERS * 41
    missed = []
    for form in cases:
        said = f"Seen today, {form} keeps falling"
        assert find_nhs_numbers(said), form  # the scanner sees it before the guard
        out = guard(said)
        if find_nhs_numbers(out.text) or NHS_NUMBER_MARK not in out.text:
            missed.append(form)
        assert out.text.startswith("Seen today, ") and out.text.endswith(" keeps falling")
    assert missed == []


def test_ordinary_nhs_text_comes_through_untouched() -> None:
    from tests.pii_corpus import false_positive_lines, find_nhs_numbers, generated_ordinary

    written, generated = false_positive_lines(), generated_ordinary()
    assert len(written) >= 120 and len(generated) == 1800
    changed = [line for line in written + generated if guard(line).text != line]
    assert changed == []
    # The corpus is not easy: a detector with no context (phone prefixes, ISBNs, dates and
    # times) would have removed digits from some of these lines.
    assert sum(1 for line in written + generated if find_nhs_numbers(line)) > 50


def test_isbn_10_is_left_alone_though_it_uses_the_same_modulus_11() -> None:
    assert nhs_check_digit_ok("0198526636")  # ISBN 0-19-852663-6 passes the NHS check
    assert not guard("ISBN 0-19-852663-6").changed
    assert guard("ref 0-19-852663-6").changed  # without the label it could be a patient


def test_shipped_content_is_untouched_by_the_guard(catalogue) -> None:
    from pathlib import Path

    import yaml

    def strings(value):
        if isinstance(value, str):
            yield value
        elif isinstance(value, dict):
            for v in value.values():
                yield from strings(v)
        elif isinstance(value, list):
            for v in value:
                yield from strings(v)

    content = Path(__file__).resolve().parent.parent / "content"
    texts = [
        s for f in sorted(content.rglob("*.yaml")) for s in strings(yaml.safe_load(f.read_text()))
    ]
    assert len(texts) > 100
    assert [s for s in texts if guard(s).changed] == []


def test_markers_do_not_count_against_a_length_limit_and_fit_keeps_words() -> None:
    from bot.pii import fit, visible_length

    typed = "x" * 187 + " 9434765919"  # 198 characters
    clean = guard(typed).text
    assert len(clean) == 208 and visible_length(clean) == 188
    assert fit(clean, None) == clean and fit(clean, 208) == clean
    # A column of 198 held what was typed: the compact marker fits it, no word is lost.
    assert fit(clean, 198) == "x" * 187 + " [NHS no.]"
    # Only text already too long before redaction loses words, and keeps its marker.
    cut = fit(guard("x" * 190 + " 943 476 5919").text, 100)
    assert len(cut) == 100 and "[NHS no.]" in cut and cut.startswith("x" * 80)


# --- the front door: nothing echoed, the person told, no work lost ---------------------------


async def test_replies_never_echo_an_identifier_and_the_person_is_told(chat) -> None:
    ann = chat("ann")
    said = {
        "tool patient 943 476 5919 keeps falling": "Tools that fit",
        "patient 943.476.5919 keeps falling": "I didn't understand",
        "lessons 9434765919": "lessons",
        "tool " + "a" * 52 + " 943 476 5919": "Tools that fit",  # would be cut mid-number
    }
    for line, expected in said.items():
        out = await ann.says(line)
        assert expected in out, out
        assert "patient-identifiable" in out
        assert "943" not in out and "5919" not in out


async def test_a_redacted_console_answer_never_loses_the_enquiry(chat) -> None:
    ann = chat("ann")
    date_range = "last 10 years, " + "x" * 170 + " 943 476 5919"  # 197 typed; the limit is 200
    lines = [
        "librarian Management of falls after hip fracture?",
        "skip",
        "audit or quality improvement",
        "2027-01-20",
        "no",
        "1",
        date_range,
        "skip",
        "skip",
        "skip",
        "skip",
        "skip",
    ]
    out = ""
    for line in lines:
        out = await ann.says(line)
    assert "ENQ-2026-0001" in out, out
    from sqlmodel import select

    from bot.store.models import Enquiry

    with ann.engine.store.session() as s:
        stored = s.exec(select(Enquiry.date_range)).one()
    assert stored.endswith("x " + NHS_NUMBER_MARK)


async def test_a_display_name_never_reaches_a_reply_or_the_database(chat) -> None:
    from bot.messages import ConversationRef, Inbound, PersonRef

    engine = chat("ann").engine
    who = PersonRef("teams", "29:ann", "Ann 943 476 5919")
    inbound = Inbound("message", who, ConversationRef("teams", "a:ann"), "librarian")
    out = "\n".join(r.to_text() for r in await engine.handle(inbound))
    assert "5919" not in out
    assert engine.person(who).display_name == f"Ann {NHS_NUMBER_MARK}"


def test_a_teams_form_shown_again_does_not_echo_what_was_typed() -> None:
    from adapters.teams.cards import form_again
    from bot.messages import Form, Input, Reply, Text, reply_to_dict

    form = Form("enquiry", "Ask a librarian", (Input("question", "Your question"),))
    rejected = Reply((Text("Please fix these and submit again:"),), errors=(("question", "x"),))
    again = form_again(reply_to_dict(Reply((form,))), {"question": "re 943 476 5919"}, rejected)
    shown = again.elements[-1]
    assert isinstance(shown, Form) and shown.inputs[0].initial == f"re {NHS_NUMBER_MARK}"


async def test_words_carried_by_a_button_or_shortcut_are_guarded(chat) -> None:
    from bot.messages import ConversationRef, Inbound, PersonRef

    engine = chat("ann").engine
    who = PersonRef("teams", "29:ann", "Ann")
    pressed = Inbound(
        "button",
        who,
        ConversationRef("teams", "a:ann"),
        action="tool " + "a" * 70 + " 943 476 5919",  # the echo is cut at 77 characters
        event_id="b1",
    )
    out = "\n".join(r.to_text() for r in await engine.handle(pressed))
    assert "patient-identifiable" in out and "943 47" not in out


async def test_text_guarded_before_its_turn_still_earns_the_notice(chat) -> None:
    ann = chat("ann")  # e.g. an inbound event kept in storage (guarded there) before handling
    out = await ann.says(f"tool falls {NHS_NUMBER_MARK} ward")
    assert "patient-identifiable data (an NHS number)" in out


def test_dates_of_birth_with_any_dash_or_space() -> None:
    for said in ("DOB 12–03–1954", "dob\u00a012/03/1954", "D.O.B. 1954-03-12", "born 3−3−50"):
        assert guard(said).removed == ("a date of birth",), said
