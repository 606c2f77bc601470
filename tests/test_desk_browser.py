"""The desk in a real browser (Debian's chromium through Playwright) against a real kmb server on
loopback: a librarian works an enquiry from claim to close with the keyboard only, and every page
passes axe-core's WCAG 2.2 AA rules with no violations."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.testing.desk import seed
from tests.desk_rig import LINK, serving

CHROMIUM = os.environ.get("KMB_CHROMIUM", "/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    """Chromium, headless; skipped only where it is truly absent and this is not CI."""
    if not shutil.which(CHROMIUM):
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run the browser tests: no chromium at {CHROMIUM}")
        pytest.skip(f"no chromium at {CHROMIUM}: `apt-get install chromium` to run these tests")
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        launched = await p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            yield launched
        finally:
            await launched.close()


async def _sign_in(page: Any, link: str) -> None:
    await page.goto(link)
    await _tab_to(page, "form[action='/desk/sign-in'] button")
    await page.keyboard.press("Enter")
    await page.wait_for_url("**/desk/")


async def _tab_to(page: Any, selector: str, limit: int = 120) -> None:
    """Press Tab until the element is focused, as a keyboard user would."""
    for _ in range(limit):
        if await page.evaluate("s => !!document.activeElement?.matches(s)", selector):
            return
        await page.keyboard.press("Tab")
    raise AssertionError(f"{selector} can't be reached with the Tab key")


async def test_a_librarian_works_an_enquiry_with_the_keyboard_only(engine, browser) -> None:
    people = await seed(engine)
    ann, sam = people["ann"], people["sam"]
    ann.opens()  # what Ann has been told so far
    async with serving(engine) as base:
        said = await sam.says("desk")
        link = base + LINK.search(said).group(2)  # type: ignore[union-attr]
        page = await browser.new_page(viewport={"width": 1280, "height": 900})
        await _sign_in(page, link)
        await _tab_to(page, "a[href='/desk/queue']")
        await page.keyboard.press("Enter")
        await page.wait_for_url("**/desk/queue")
        await _tab_to(page, "a[href='/desk/enquiries/ENQ-2026-0001']")
        await page.keyboard.press("Enter")
        await page.wait_for_url("**/desk/enquiries/ENQ-2026-0001")

        await _tab_to(page, "#claim")
        await page.keyboard.press("Enter")
        await page.wait_for_selector("text=You have ENQ-2026-0001")

        await _tab_to(page, "#reply-message")
        await page.keyboard.type("Do you want UK studies only?")
        await _tab_to(page, "form[action$='/reply'] button")
        await page.keyboard.press("Enter")
        await page.wait_for_selector("text=Sent on ENQ-2026-0001")

        await _tab_to(page, "#note-note")
        await page.keyboard.type("Try CINAHL as well")
        await _tab_to(page, "form[action$='/note'] button")
        await page.keyboard.press("Enter")
        await page.wait_for_selector("text=Internal note added")

        await _tab_to(page, "#close-outcome")
        await page.keyboard.type("Reference list sent by email")
        await page.keyboard.press("Tab")
        await page.keyboard.type("75")
        await _tab_to(page, "#close-read")
        await page.keyboard.press("ArrowDown")
        await page.keyboard.press("ArrowDown")
        await page.keyboard.press("ArrowDown")  # READ 3
        await _tab_to(page, "form[action$='/close'] button")
        await page.keyboard.press("Enter")
        await page.wait_for_selector("text=ENQ-2026-0001 closed. The requester has been told.")
        assert "Closed: Reference list sent by email" in await page.content()
        await page.close()
    told = ann.opens()
    assert "picked up your enquiry ENQ-2026-0001" in told
    assert "Do you want UK studies only?" in told and "CINAHL" not in told
    assert "ENQ-2026-0001 is complete: Reference list sent by email" in told
    from bot.store.models import Enquiry

    with engine.store.session() as s:
        e = s.get(Enquiry, 1)
        assert e is not None and (e.status, e.minutes_spent, e.read_level) == ("closed", 75, 3)


PAGES = [
    "/desk/",
    "/desk/queue",
    "/desk/queue?status=all&sort=newest",
    "/desk/enquiries/ENQ-2026-0001",
    "/desk/enquiries/ENQ-2026-0003",
    "/desk/mine",
    "/desk/stats?period=this+year",
    "/desk/projects",
    "/desk/projects/1",
    "/desk/lessons?q=discharge",
    "/desk/knowvember",
    "/desk/tools",
    "/desk/tools/after-action-review",
    "/desk/sign-out",
    "/desk/enquiries/ENQ-2026-9999",
]


async def test_every_page_passes_wcag_22_aa(engine, browser) -> None:
    from axe_playwright_python.async_playwright import Axe

    people = await seed(engine)
    axe = Axe()
    found: dict[str, list[str]] = {}

    errors: list[str] = []

    async def check(page: Any, name: str) -> None:
        results = await axe.run(page, options={"runOnly": {"type": "tag", "values": WCAG}})
        assert results.response["passes"], name  # axe really ran its rules on this page
        found[name] = [v["id"] for v in results.response["violations"]]
        # desk.js ran under the CSP and started NHS.UK frontend's components
        supported = "s => document.body.classList.contains('nhsuk-frontend-supported')"
        assert await page.evaluate(supported, ""), name

    def console(message: Any) -> None:
        # The CSS names a web font at assets.nhs.uk; the CSP refuses it (Arial is the fallback).
        if message.type == "error" and "font" not in message.text.lower():
            errors.append(message.text)

    async with serving(engine) as base:
        page = await browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("console", console)
        await page.goto(f"{base}/desk/queue")  # signed out
        await check(page, "signed out")
        said = await people["ann"].says("desk")
        link = base + LINK.search(said).group(2)  # type: ignore[union-attr]
        await page.goto(link)
        await check(page, "sign in")
        await page.goto(f"{base}/desk/sign-in?token=spent")
        await page.click("form[action='/desk/sign-in'] button")
        await check(page, "link refused")
        await page.goto(link)
        await page.click("form[action='/desk/sign-in'] button")
        await page.goto(f"{base}/desk/queue")  # a member: refused
        await check(page, "forbidden")
        await page.goto(f"{base}/desk/enquiries/ENQ-2026-0001")
        await check(page, "member's own enquiry")

        said = await people["sam"].says("desk")
        link = base + LINK.search(said).group(2)  # type: ignore[union-attr]
        await page.context.close()  # a browser signed in as Ann refuses Sam's link
        page = await browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("console", console)
        await page.goto(link)
        await page.click("form[action='/desk/sign-in'] button")
        for path in PAGES:
            response = await page.goto(base + path)
            assert response.status == (404 if path.endswith("9999") else 200), path
            await check(page, path)
        await page.goto(f"{base}/desk/enquiries/ENQ-2026-0001")
        await page.fill("#close-minutes", "lots")
        await page.click("form[action$='/close'] button")
        assert "There is a problem" in await page.content()
        await check(page, "enquiry with errors")
        await page.set_viewport_size({"width": 390, "height": 844})
        for path in ("/desk/queue", "/desk/stats?period=this+year"):
            await page.goto(base + path)
            await check(page, f"{path} at 390px")
    assert len(found) == len(PAGES) + 8
    assert [e for e in errors if "status of 4" not in e] == []  # 401/403/404 pages aside
    print("axe WCAG 2.2 AA violations per page:", {n: len(ids) for n, ids in found.items()})
    assert {name: ids for name, ids in found.items() if ids} == {}
