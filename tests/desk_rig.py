"""A real kmb server on loopback for desk tests, and signing in through a chat link."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp

from bot.engine import Engine
from bot.server import Running
from bot.testing import Chatter

LINK = re.compile(r"(https?://\S+?)(/desk/sign-in\?token=[\w-]+)")
HIDDEN = re.compile(r'name="(\w+)" value="([^"]*)"')

ENQUIRY = [
    "librarian Does early mobilisation after hip fracture surgery shorten length of stay?",
    "skip",  # PICO
    "audit or quality improvement",
    "2027-01-20",
    "no",
    "1",
    "last 10 years",
    "skip",  # known papers
    "skip",  # languages
    "Physiotherapist",
    "Trauma and orthopaedics",
    "Example NHS Foundation Trust",
]


async def ask(person: Chatter, lines: list[str] = ENQUIRY) -> str:
    """A person asks the library team a question in chat, line by line (the console way)."""
    out = ""
    for line in lines:
        out = await person.says(line)
    return out


@asynccontextmanager
async def serving(engine: Engine) -> AsyncIterator[str]:
    """`kmb serve`'s app and delivery on a free loopback port; its base URL."""
    running = Running(engine, scheduler=False, tick=0.05)
    base = await running.start("127.0.0.1", 0)
    try:
        yield base
    finally:
        await running.stop()


async def link_for(person: Chatter, base: str) -> str:
    """The sign-in link kmb gives a person who types `desk`, pointed at this server."""
    said = await person.says("desk")
    found = LINK.search(said)
    assert found, said
    return base + found.group(2)


def hidden(html: str) -> dict[str, str]:
    """The hidden fields of a page's forms (the last of each name)."""
    return dict(HIDDEN.findall(html))


def client() -> aiohttp.ClientSession:
    """A browser-like client: keeps cookies for the loopback address, follows no redirects."""
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


async def sign_in(http: aiohttp.ClientSession, link: str) -> aiohttp.ClientResponse:
    """Open the link and press Sign in, as a person would."""
    async with http.get(link) as r:
        assert r.status == 200
        fields = hidden(await r.text())
    base = link.split("/desk/")[0]
    async with http.post(f"{base}/desk/sign-in", data=fields, allow_redirects=False) as r:
        await r.read()
        return r
