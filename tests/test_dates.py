"""Dates as people write them, read in their own timezone and always said back."""

import datetime as dt

import pytest

from tests.test_enquiries import ENQUIRY

# The fake clock starts on Monday 23 November 2026, 09:30 UTC.
READ_AS = [
    ("by friday", "Friday 27 November"),
    ("friday", "Friday 27 November"),
    ("next week", "Monday 30 November"),
    ("15 Dec", "Tuesday 15 December"),
    ("15th December", "Tuesday 15 December"),
    ("end of January", "Sunday 31 January 2027"),
    ("tomorrow", "Tuesday 24 November"),
    ("in 2 weeks", "Monday 7 December"),
    ("2026-12-15", "Tuesday 15 December"),
    ("15/12/2026", "Tuesday 15 December"),
    ("1/12/26", "Tuesday 1 December"),
    ("14 Nov", "Sunday 14 November 2027"),  # a day and month with no year: the next one
]


async def _to_deadline(chat):
    ann = chat("ann")
    for line in ENQUIRY[:3]:
        await ann.says(line)
    return ann


@pytest.mark.parametrize(("typed", "understood"), READ_AS)
async def test_deadline_as_people_write_it_is_read_and_said_back(chat, typed, understood) -> None:
    ann = await _to_deadline(chat)
    out = await ann.says(typed)
    assert f"Understood: {understood}." in out and "(5/12)" in out


async def test_asap_gets_a_helpful_answer(chat) -> None:
    ann = await _to_deadline(chat)
    out = await ann.says("ASAP")
    assert "latest date that still helps" in out and "(4/12)" in out
    assert "specific patient, answer yes when asked: those searches go first" in out


async def test_past_dates_and_nonsense_are_refused_clearly(chat) -> None:
    ann = await _to_deadline(chat)
    assert "That date has passed" in await ann.says("yesterday")
    assert "That date has passed" in await ann.says("2026-11-01")
    assert "couldn't read that date" in await ann.says("1")
    assert "couldn't read that date" in await ann.says("whenever")


async def test_relative_dates_count_from_the_persons_own_day(chat, clock) -> None:
    clock.set(dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC))  # already Tuesday in Auckland
    kiri = chat("kiri")
    await kiri.says("timezone Pacific/Auckland")
    for line in ENQUIRY[:3]:
        await kiri.says(line)
    assert "Understood: Wednesday 25 November." in await kiri.says("tomorrow")


async def test_a_whole_form_says_back_each_date(chat) -> None:
    lea = chat("lea", role="lead", platform="slack")
    await lea.says("project new")
    out = await lea.submits(
        "project",
        {
            "name": "Ward 7",
            "start": "monday",
            "end": "end of March",
            "members": "lea",
            "template": "aar",
            "checkins": "0",
        },
    )
    assert "Runs: 30 Nov 2026 to 31 Mar 2027" in out  # the confirmation says the dates back
