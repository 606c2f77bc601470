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
