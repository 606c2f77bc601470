#!/usr/bin/env python3
"""Drive kmb in the Microsoft 365 Agents Playground, headless, and screenshot what a person sees.

Starts its own kmb (`kmb serve`, Teams in anonymous mode on the Agents SDK, a throwaway SQLite
file) on 127.0.0.1:3978 and the Playground (npm `@microsoft/m365agentsplayground` 0.2.28,
through npx) on port 56150, then chats through Debian's chromium with playwright and writes
PNGs at a desktop width (1280 px) and a phone-ish width (420 px) to docs/screenshots/.

Needs: node/npx (npm registry reachable), `apt-get install -y chromium fonts-noto-color-emoji`,
`pip install playwright` in kmb's venv (do not run `playwright install`: the browser is Debian's).

    .venv/bin/python scripts/playground_screenshots.py [--out docs/screenshots]

The Playground's own chrome does not shrink below ~600 px, so the 420 px pictures widen the
viewport to 420 and lift the Playground's minimum widths with a style sheet; the Adaptive Cards
themselves are laid out by the Playground's renderer at that width. Only the conversation rows
are cut out of the page.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from playwright.async_api import Locator, Page, async_playwright

ROOT = Path(__file__).resolve().parent.parent
KMB_PORT = 3978
PG_PORT = 56150
PLAYGROUND = "@microsoft/m365agentsplayground@0.2.28"
WIDTHS = (1280, 420)
NARROW_CSS = """
* { min-width: 0 !important; }
.fai-OutputCard { max-width: calc(100vw - 72px) !important; box-sizing: border-box !important; }
.fai-OutputCard * { max-width: 100% !important; box-sizing: border-box !important; }
"""
TEXTBOX = 'div[contenteditable="true"][role="textbox"]'


def port_free(port: int) -> None:
    """Refuse to start if something already listens (the Playground would pick another port)."""
    with socket.socket() as sock:
        if sock.connect_ex(("127.0.0.1", port)) == 0:
            raise SystemExit(f"port {port} is in use: stop whatever listens there first")


def wait_http(url: str, timeout: float = 90) -> None:
    """Wait until url answers at all (any status)."""
    end = time.time() + timeout
    while time.time() < end:
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.5)
    raise SystemExit(f"{url} did not answer in {timeout} s")


class Chat:
    """The Playground page and the conversation in it."""

    def __init__(self, page: Page, out: Path, db_url: str, kmb: str) -> None:
        self.page = page
        self.out = out
        self.db_url = db_url
        self.kmb = kmb
        self.n = 0
        self.written: list[tuple[str, str]] = []

    async def rows(self) -> int:
        """Messages in the conversation (the list is tagged data-kmb-list once found)."""
        return int(
            await self.page.evaluate(
                """() => {
            let list = document.querySelector('[data-kmb-list]');
            if (!list) {
              let e = document.querySelector('[aria-label="Message header"]');
              while (e) { const s = getComputedStyle(e).overflowY;
                if (s === 'auto' || s === 'scroll') break; e = e.parentElement; }
              if (!e) return 0;
              e.setAttribute('data-kmb-list', '1'); list = e;
            }
            return [...list.children].filter(c => c.innerText.trim()).length;
          }"""
            )
        )

    async def text(self) -> str:
        """All of the conversation's text (to notice an updated card)."""
        await self.rows()
        return str(
            await self.page.evaluate(
                "() => { const l = document.querySelector('[data-kmb-list]');"
                " return l ? l.innerText : ''; }"
            )
        )

    async def settle(self, before: int, at_least: int = 1, timeout: float = 20) -> None:
        """Wait for at least `at_least` new rows (0: any change), then for quiet."""
        old = await self.text()
        end = time.time() + timeout
        while time.time() < end:
            if at_least and await self.rows() >= before + at_least:
                break
            if not at_least and await self.text() != old:
                break
            await self.page.wait_for_timeout(200)
        last, quiet = await self.text(), 0.0
        while quiet < 1.5 and time.time() < end + 5:
            await self.page.wait_for_timeout(300)
            now = await self.text()
            quiet = quiet + 0.3 if now == last else 0.0
            last = now

    async def send(self, words: str) -> int:
        """Type and send; return the row index where this exchange starts."""
        start = await self.rows()
        box = self.page.locator(TEXTBOX)
        await box.click()
        await box.type(words)
        await self.page.click('button[aria-label="Send Message"]')
        await self.settle(start, 2)
        return start

    def card(self, containing: str) -> Locator:
        """The last Adaptive Card showing this text."""
        return self.page.locator(".ac-adaptiveCard", has_text=containing).last

    async def press(self, card: Locator, title: str, expect_rows: int = 0) -> int:
        """Press a card button; wait for a new message or a changed card."""
        start = await self.rows()
        await card.locator(f'.ac-actionSet button[aria-label="{title}"]').first.click()
        await self.settle(start, expect_rows, timeout=8)
        return start

    async def capture(
        self, name: str, first_row: int, what: str, widths: tuple[int, ...] = WIDTHS
    ) -> None:
        """Screenshot the rows from first_row to the end, at each width.

        Changing the width makes the Playground render its cards afresh, which empties inputs a
        person has typed but not sent: capture such states at the current width only.
        """
        self.n += 1
        await self.rows()  # tags the message list
        for width in widths:
            page = self.page
            await page.evaluate("() => document.getElementById('kmb-narrow')?.remove()")
            if width < 600:
                await page.add_style_tag(content=NARROW_CSS)
                await page.evaluate(
                    "() => { const s = document.querySelectorAll('style');"
                    " s[s.length - 1].id = 'kmb-narrow'; }"
                )
            await page.set_viewport_size({"width": width, "height": 900})
            await page.wait_for_timeout(400)
            height = await page.evaluate(
                """(first) => { const l = document.querySelector('[data-kmb-list]');
                  const rows = [...l.children].filter(c => c.innerText.trim()).slice(first);
                  return rows.reduce((h, r) => h + r.getBoundingClientRect().height, 0); }""",
                first_row,
            )
            await page.set_viewport_size(
                {"width": width, "height": int(min(max(900, height + 260), 12000))}
            )
            await page.wait_for_timeout(400)
            await page.evaluate(
                "() => { const l = document.querySelector('[data-kmb-list]');"
                " l.scrollTop = l.scrollHeight; }"
            )
            await page.wait_for_timeout(300)
            clip = await page.evaluate(
                """(first) => { const l = document.querySelector('[data-kmb-list]');
                  const rows = [...l.children].filter(c => c.innerText.trim()).slice(first);
                  const lr = l.getBoundingClientRect();
                  const rects = rows.map(r => r.getBoundingClientRect());
                  const top = Math.max(lr.top, Math.min(...rects.map(r => r.top)));
                  const bottom = Math.min(lr.bottom, Math.max(...rects.map(r => r.bottom)));
                  const left = Math.max(0, lr.left);
                  const right = Math.min(window.innerWidth, lr.right);
                  return {x: left, y: Math.max(0, top - 8), width: right - left,
                          height: bottom - top + 16}; }""",
                first_row,
            )
            path = self.out / f"{self.n:02d}-{name}-{width}.png"
            await page.screenshot(path=str(path), clip=clip)
            self.written.append((path.name, what))
            print("wrote", path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)
        await self.page.evaluate("() => document.getElementById('kmb-narrow')?.remove()")
        await self.page.set_viewport_size({"width": 1280, "height": 900})

    def grant(self, role: str, who: str) -> None:
        """`kmb roles grant` against the throwaway database."""
        env = dict(os.environ, DATABASE_URL=self.db_url)
        subprocess.run([self.kmb, "roles", "grant", role, who], env=env, check=True)


async def fill(card: Locator, label: str, value: str) -> None:
    """Fill the text box or text area whose label starts with `label`."""
    box = card.get_by_role("textbox", name=re.compile("^" + re.escape(label)))
    await box.first.fill(value)


async def type_date(page: Page, card: Locator, label: str, value: str) -> str:
    """Type into an Input.Date (a Fluent date picker in Teams); return what the field kept."""
    hint = label
    box = card.get_by_role("combobox", name=re.compile("^" + re.escape(label))).first
    await box.click()
    await page.keyboard.press("Escape")
    await box.press("Control+a")
    await box.press("Backspace")
    await box.press_sequentially(value)
    await box.press("Tab")
    await page.wait_for_timeout(300)
    kept = await box.input_value()
    print(f"date field {hint!r}: typed {value!r}, the picker kept {kept!r}")
    return kept


async def choose(page: Page, card: Locator, label: str, option: str) -> None:
    """Pick an option in a compact choice set (a Fluent combobox)."""
    await card.get_by_role("combobox", name=re.compile("^" + re.escape(label))).first.click()
    await page.get_by_role("option", name=option).first.click()


async def scenario(chat: Chat, user_id_of) -> None:
    page = chat.page
    # 1. The welcome after install (sent on the installationUpdate of the first page load).
    await page.wait_for_selector(".ac-adaptiveCard", timeout=30000)
    await chat.settle(0, 0, timeout=3)
    await chat.capture("welcome", 0, "the welcome after install (installationUpdate)")

    # 2. help, as a plain member.
    at = await chat.send("help")
    await chat.capture("help-member", at, "`help` as a member")

    # 3. Tool suggestions, then a card button.
    at = await chat.send("tool we keep repeating the same mistakes on the ward")
    await chat.capture(
        "tool-suggestions", at, "`tool we keep repeating the same mistakes on the ward`"
    )
    card = page.locator(".ac-adaptiveCard").last
    titles = await card.locator(".ac-actionSet button").evaluate_all(
        "bs => bs.map(b => b.getAttribute('aria-label'))"
    )
    print("tool card buttons:", titles)
    if "Show the steps" in titles:
        at = await chat.press(card, "Show the steps", 1)
        await chat.capture("tool-show-steps", at, "pressing **Show the steps** on the first tool")
    for title, name in (
        ("Use it with my team", "tool-use-with-team"),
        ("Ask a librarian", "tool-ask-librarian"),
    ):
        card = page.locator(
            ".ac-adaptiveCard", has=page.locator(f'.ac-actionSet button[aria-label="{title}"]')
        ).first
        if await card.count():
            at = await chat.press(card, title, 1)
            await chat.capture(name, at, f"pressing **{title}** on a tool suggestion")

    # 4. The enquiry form: as the hint suggests, a past deadline, then a valid one.
    at = await chat.send("librarian")
    await chat.capture("librarian-form", at, "`librarian`: the enquiry form")
    form_row = at

    async def fill_enquiry(deadline: str) -> Locator:
        card = chat.card("Send to the library team")
        await fill(
            card,
            "What is your question?",
            "Does a daily safety huddle reduce falls on adult inpatient wards?",
        )
        await fill(
            card, "Population, intervention", "Adult inpatients; safety huddles; usual care; falls"
        )
        await choose(page, card, "What will the evidence be used for?", "Service development")
        await type_date(page, card, "When do you need it by?", deadline)
        await card.get_by_role("radio", name="No").first.check()
        await choose(page, card, "What would you like back?", "An evidence summary")
        await fill(card, "Your role", "Ward manager")
        await fill(card, "Your team or department", "Ward 7, Elderly care")
        await fill(card, "Your NHS organisation", "Example NHS Foundation Trust")
        return card

    card = await fill_enquiry("in 2 weeks")  # as the field's hint suggests
    await chat.press(card, "Send to the library team")
    await chat.capture(
        "librarian-form-in-2-weeks",
        form_row,
        "the form filled in with the deadline typed as `in 2 weeks` "
        "(a date picker keeps only dates), sent",
        widths=(1280,),
    )
    card = await fill_enquiry("2020-01-01")
    await chat.press(card, "Send to the library team")
    await chat.capture(
        "librarian-form-past-deadline",
        form_row,
        "filled in again with a past deadline (2020-01-01) and sent (kmb's own error)",
    )
    card = await fill_enquiry((dt.date.today() + dt.timedelta(days=21)).isoformat())
    rows = await chat.rows()
    await chat.press(card, "Send to the library team")
    await chat.capture(
        "librarian-form-sent", min(form_row, rows), "sent with a deadline three weeks ahead"
    )

    # Roles for the rest (the Playground's user is teams:<id>).
    uid = user_id_of()
    chat.grant("lead", f"teams:{uid}")
    chat.grant("librarian", f"teams:{uid}")

    # 5. A project, then a retro.
    at = await chat.send("project new")
    await chat.capture("project-new-form", at, "`project new` (as a lead)")
    card = chat.card("Create project")
    await fill(card, "What is the project called?", "Falls huddle pilot")
    await type_date(page, card, "When does it start?", "today")  # typed, not picked
    await type_date(page, card, "When does it start?", dt.date.today().isoformat())
    end = (dt.date.today() + dt.timedelta(days=90)).isoformat()
    await type_date(page, card, "When does it end?", end)
    await fill(card, "Who is in the team?", "Alex Wilber")  # the Playground's own user
    try:
        choices = card.get_by_role("combobox", name=re.compile("^Which questions"))
        if not (await choices.first.input_value()):
            await choices.first.click()
            await page.get_by_role("option").first.click()
    except Exception as exc:  # a picture without a template is still useful
        print("template choice:", exc)
    await chat.capture("project-new-filled", at, "the project form filled in", widths=(1280,))
    await chat.press(card, "Create project")
    await chat.capture("project-created", at, "the project form sent")
    card = chat.card("Run a retro now")
    if await card.count():
        at = await chat.press(card, "Run a retro now", 1)
        await chat.capture("retro-now", at, "pressing **Run a retro now**")
    card = chat.card("Not today")
    if await card.count():
        at = await chat.press(card, "Answer", 1)
        await chat.capture("retro-answer-button", at, "pressing **Answer** on the retro prompt")
    at = await chat.send("retro")
    await chat.capture("retro-typed", at, "typing `retro`")
    card = chat.card("Save answers")
    if await card.count():
        boxes = card.get_by_role("textbox")
        answers = (
            "Daily huddles at 08:30 on Ward 7",
            "Huddles ran on 40 of 60 days; missed at weekends",
            "No cover for the ward manager at weekends",
            "Name a deputy to lead huddles",
            "Ward manager to rota deputies by Friday",
        )
        for i in range(await boxes.count()):
            await boxes.nth(i).fill(answers[i % len(answers)])
        rows = await chat.rows()
        await chat.press(card, "Save answers")
        await chat.capture("retro-saved", rows - 1, "the retro answers saved")
    at = await chat.send("retro status 1")
    await chat.capture("retro-status", at, "`retro status 1`")

    # 6. The librarian's views.
    at = await chat.send("help")
    await chat.capture("help-librarian", at, "`help` as lead and librarian")
    at = await chat.send("enquiries stats")
    await chat.capture("enquiries-stats", at, "`enquiries stats` as a librarian")
    at = await chat.send("enquiries")
    await chat.capture("enquiries-queue", at, "`enquiries` (the library queue)")
    at = await chat.send("enquiry ENQ-2026-0001")
    await chat.capture("enquiry-card", at, "`enquiry ENQ-2026-0001`")


async def run(out: Path, kmb: str, chromium: str) -> list[tuple[str, str]]:
    port_free(KMB_PORT)
    port_free(PG_PORT)
    work = Path(tempfile.mkdtemp(prefix="kmb-playground-"))
    db = work / "kmb.db"
    db_url = f"sqlite:///{db}"
    env = dict(os.environ, DATABASE_URL=db_url)
    serve_log = open(work / "kmb-serve.log", "w")  # noqa: SIM115 - closed in the finally below
    kmb_proc = subprocess.Popen(
        [kmb, "serve", "--port", str(KMB_PORT)],
        cwd=work,
        env=env,
        stdout=serve_log,
        stderr=subprocess.STDOUT,
    )
    pg_log = open(work / "playground.out", "w")  # noqa: SIM115 - closed in the finally below
    pg_env = dict(
        os.environ,
        TEAMSAPPTESTER_BROWSER="none",
        M365_AGENTS_PLAYGROUND_LOGFILE=str(work / "playground.log"),
    )
    pg_proc = subprocess.Popen(
        [
            "npx",
            "--yes",
            "-p",
            PLAYGROUND,
            "agentsplayground",
            "-e",
            f"http://127.0.0.1:{KMB_PORT}/api/messages",
            "-c",
            "msteams",
            "-p",
            str(PG_PORT),
            "--dt",
        ],
        cwd=work,
        env=pg_env,
        start_new_session=True,  # npx starts node as a child: stop the whole group
        stdout=pg_log,
        stderr=subprocess.STDOUT,
    )

    def user_id_of() -> str:
        with sqlite3.connect(db) as c:
            row = c.execute(
                "select external_id from person where platform = 'teams' order by id limit 1"
            ).fetchone()
        return row[0]

    try:
        wait_http(f"http://127.0.0.1:{KMB_PORT}/api/messages")
        wait_http(f"http://127.0.0.1:{PG_PORT}/")
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
            page = await browser.new_page(viewport={"width": 1280, "height": 900})
            await page.goto(f"http://127.0.0.1:{PG_PORT}/")
            await page.get_by_role("button", name="Hide log panel").click()
            chat = Chat(page, out, db_url, kmb)
            try:
                await scenario(chat, user_id_of)
            finally:
                await browser.close()
        return chat.written
    finally:
        os.killpg(pg_proc.pid, signal.SIGTERM)  # its own group: npx and the node under it
        for proc in (pg_proc, kmb_proc):
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        serve_log.close()
        pg_log.close()
        print("kmb log:", work / "kmb-serve.log")
        print("playground log:", work / "playground.log")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    ap.add_argument(
        "--kmb", default=shutil.which("kmb") or str(Path(sys.executable).parent / "kmb")
    )
    ap.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for old in args.out.glob("*.png"):  # a picture of a screen that no longer exists misleads
        old.unlink()
    written = asyncio.run(run(args.out, args.kmb, args.chromium))
    index = (args.out / "README.md").read_text().split("| file | what |")[0]
    rows = {}
    for name, what in written:
        rows.setdefault(name.rsplit("-", 1)[0], what)
    table = "| file | what |\n| --- | --- |\n" + "".join(
        f"| {stem} | {what} |\n" for stem, what in rows.items()
    )
    (args.out / "README.md").write_text(index + table)
    print(f"{len(written)} screenshots")


if __name__ == "__main__":
    main()
