"""Screenshots of every desk page at 1280 and 390 px into docs/screenshots/desk/.

    .venv/bin/python scripts/desk_screenshots.py

Runs kmb's server in this process on a throwaway SQLite database with a fixed clock, seeds it
(bot/testing/desk.py), signs in through chat links and photographs each page with Debian's
chromium.
"""

from __future__ import annotations

import asyncio
import re
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.clock import FakeClock  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.content import load_catalogue  # noqa: E402
from bot.engine import Engine  # noqa: E402
from bot.features import register_all  # noqa: E402
from bot.server import Running  # noqa: E402
from bot.store import Store  # noqa: E402
from bot.testing.desk import seed  # noqa: E402
from bot.testing.fixtures import START  # noqa: E402

OUT = ROOT / "docs" / "screenshots" / "desk"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LIBRARIAN_PAGES = {
    "home": "/desk/",
    "queue": "/desk/queue",
    "enquiry": "/desk/enquiries/ENQ-2026-0001",
    "enquiry-closed": "/desk/enquiries/ENQ-2026-0003",
    "stats": "/desk/stats?period=this+year",
    "projects": "/desk/projects",
    "project": "/desk/projects/1",
    "lessons": "/desk/lessons?q=discharge",
    "knowvember": "/desk/knowvember",
    "tools": "/desk/tools",
    "tool": "/desk/tools/after-action-review",
    "sign-out": "/desk/sign-out",
}
MEMBER_PAGES = {"member-mine": "/desk/mine", "member-queue-refused": "/desk/queue"}
LINK = re.compile(r"/desk/sign-in\?token=[\w-]+")


async def main() -> None:
    """Seed, serve, sign in, photograph."""
    from playwright.async_api import async_playwright

    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/desk.db"
        clock = FakeClock(START)
        store = Store(url, clock)
        store.upgrade()
        engine = Engine(store, load_catalogue(), clock, Settings(database_url=url))
        register_all(engine)
        people = await seed(engine)
        running = Running(engine, scheduler=False)
        base = await running.start()
        try:
            async with async_playwright() as p:
                browser = await p.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
                for who, pages in (("sam", LIBRARIAN_PAGES), ("ann", MEMBER_PAGES)):
                    for width in (1280, 390):
                        page = await browser.new_page(viewport={"width": width, "height": 900})
                        await page.goto(f"{base}/desk/queue")
                        if who == "sam":
                            await page.screenshot(path=OUT / f"signed-out-{width}.png")
                            await page.goto(f"{base}/desk/sign-in?token=spent")
                            await page.click("form[action='/desk/sign-in'] button")
                            await page.screenshot(path=OUT / f"link-refused-{width}.png")
                        said = await people[who].says("desk")
                        found = LINK.search(said)
                        assert found, said
                        await page.goto(base + found.group(0))
                        if who == "sam":
                            await page.screenshot(path=OUT / f"sign-in-{width}.png")
                        await page.click("form[action='/desk/sign-in'] button")
                        for name, path in pages.items():
                            await page.goto(base + path)
                            await page.screenshot(path=OUT / f"{name}-{width}.png", full_page=True)
                        if who == "sam":
                            await page.goto(f"{base}/desk/enquiries/ENQ-2026-0002")
                            await page.fill("#close-minutes", "lots")
                            await page.click("form[action$='/close'] button")
                            shot = OUT / f"enquiry-errors-{width}.png"
                            await page.screenshot(path=shot, full_page=True)
                        await page.context.close()
                await browser.close()
        finally:
            await running.stop()
            store.engine.dispose()
    print(f"wrote {len(list(OUT.glob('*.png')))} screenshots to {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    asyncio.run(main())
