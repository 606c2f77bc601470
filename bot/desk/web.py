"""The desk on the web: security middleware, rendering, signing in and out.

aiohttp + Jinja with the NHS.UK frontend components; the pages themselves are in `pages.py`,
and `routes.py` mounts both on kmb's app.
Every page but sign-in needs a live session; every form post carries the session's CSRF token;
every response carries a Content Security Policy that allows no inline script and nothing from
elsewhere; roles are checked on every request, and enquiries against the viewer each time.
"""

from __future__ import annotations

import asyncio
import hmac
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from bot.desk import auth
from bot.engine import Engine

HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"
COOKIE = "kmb_desk"
PRE_COOKIE = "kmb_desk_signin"  # double-submit token for the sign-in form (no session yet)
ENGINE = web.AppKey("desk_engine", Engine)
LIMITER = web.AppKey("desk_limiter", auth.RateLimit)
VIEWER: web.RequestKey[auth.Viewer | None] = web.RequestKey("desk_viewer")
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; object-src 'none'"
)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
OPEN_PATHS = ("/desk/sign-in", "/desk/static/")


def plain(text: str) -> str:
    """Chat's light markup (`*bold*`, `code`) as plain words for a web page."""
    return re.sub(r"[*`_]", "", text)


# --- middleware ---------------------------------------------------------------------------------


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Security headers on every desk response, errors included, and the time it took."""
    started = time.perf_counter()
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        response = exc
    took = (time.perf_counter() - started) * 1000
    response.headers["Server-Timing"] = f"app;dur={took:.1f}"  # read by bench/desk.py
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "no-referrer"  # sign-in links carry a token
    if not request.path.startswith("/desk/static/"):
        response.headers["Cache-Control"] = "no-store"
    if isinstance(response, web.HTTPException):
        raise response
    return response


@web.middleware
async def require_session(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Find the signed-in person; refuse pages without one and posts without the CSRF token."""
    if request.path.startswith(OPEN_PATHS):
        return await handler(request)
    engine = request.app[ENGINE]
    who = await asyncio.to_thread(auth.viewer, engine, request.cookies.get(COOKIE))
    if who is None:
        return render(request, "desk/signed_out.jinja", {}, status=401)
    if request.method == "POST":
        form = await request.post()
        sent = str(form.get("csrf", ""))
        if not hmac.compare_digest(sent.encode(), who.csrf.encode()):
            return render(
                request,
                "desk/error.jinja",
                {"who": who, "title": "Form expired", "message": _EXPIRED},
                status=403,
            )
    request[VIEWER] = who
    return await handler(request)


_EXPIRED = (
    "This form could not be accepted because it did not come from a desk page of your current "
    "session. Go back, reload the page and try again."
)


def viewer_of(request: web.Request) -> auth.Viewer:
    who = request[VIEWER]
    assert who is not None  # the session middleware let the request through
    return who


def _nav(who: auth.Viewer, path: str) -> list[dict[str, Any]]:
    items = [("/desk/", "Home", True), ("/desk/mine", "My enquiries", True)]
    items += [
        ("/desk/queue", "Queue", who.has("librarian")),
        ("/desk/stats", "Statistics", who.has("librarian")),
        ("/desk/projects", "Projects", True),
        ("/desk/lessons", "Lessons", True),
        ("/desk/knowvember", "KNOWvember", who.has("librarian")),
        ("/desk/tools", "Tools", True),
    ]
    return [
        {"href": href, "text": text, "current": path == href or path.startswith(href + "/")}
        for href, text, shown in items
        if shown
    ]


def render(
    request: web.Request, template: str, context: Mapping[str, Any], status: int = 200
) -> web.Response:
    who = request.get(VIEWER)
    full = {
        "who": who,
        "nav": _nav(who, request.path) if who else [],
        "flash": who.flash if who else "",
        "csrf": who.csrf if who else "",
        **context,
    }
    return aiohttp_jinja2.render_template(template, request, full, status=status)


def forbidden(request: web.Request) -> web.Response:
    return render(
        request,
        "desk/error.jinja",
        {
            "title": "You can't see this page",
            "message": "This page is for the library team. Ask your kmb admin if you need it.",
        },
        status=403,
    )


def not_found(request: web.Request, what: str) -> web.Response:
    return render(
        request,
        "desk/error.jinja",
        {"title": "Not found", "message": f"There is no {what} here that you can see."},
        status=404,
    )


# --- signing in and out -----------------------------------------------------------------------


async def sign_in_page(request: web.Request) -> web.Response:
    """The link from chat lands here: a button (so link scanners and previews spend nothing)."""
    token = request.query.get("token", "")[:200]
    pre = secrets.token_urlsafe(16)
    response = render(request, "desk/sign_in.jinja", {"token": token, "pre": pre})
    _cookie(request, response, PRE_COOKIE, pre, max_age=600)
    return response


async def sign_in(request: web.Request) -> web.Response:
    """Spend the link's token and start a session (rate-limited per address)."""
    engine = request.app[ENGINE]
    if not request.app[LIMITER].allow(request.remote or "?"):
        return render(
            request,
            "desk/error.jinja",
            {"title": "Too many attempts", "message": "Please wait a minute and try again."},
            status=429,
        )
    form = await request.post()
    pre = request.cookies.get(PRE_COOKIE, "")
    if not pre or not hmac.compare_digest(str(form.get("pre", "")).encode(), pre.encode()):
        return render(request, "desk/link_refused.jinja", {}, status=403)
    provider = auth.ChatLinkProvider()
    current = await asyncio.to_thread(auth.viewer, engine, request.cookies.get(COOKIE))
    identity = await asyncio.to_thread(
        provider.identify,
        engine,
        str(form.get("token", "")),
        current.person_id if current else None,
    )
    if identity is None:
        return render(request, "desk/link_refused.jinja", {}, status=403)
    token = await asyncio.to_thread(auth.start_session, engine, identity)
    response = web.HTTPSeeOther("/desk/")
    _cookie(request, response, COOKIE, token, max_age=int(auth.MAX_AGE.total_seconds()))
    response.del_cookie(PRE_COOKIE, path="/desk/")
    raise response


def _cookie(
    request: web.Request, response: web.StreamResponse, name: str, value: str, max_age: int
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/desk/",
        httponly=True,
        secure=auth.secure_cookies(request.app[ENGINE]),
        samesite="Lax",
    )


async def sign_out_page(request: web.Request) -> web.Response:
    """Sign out here, or everywhere."""
    return render(request, "desk/sign_out.jinja", {})


async def sign_out(request: web.Request) -> web.Response:
    """End this session, or all of this person's sessions."""
    engine = request.app[ENGINE]
    who = viewer_of(request)
    form = await request.post()
    if form.get("everywhere") == "yes":
        await asyncio.to_thread(auth.end_all_sessions, engine, who.person_id)
    else:
        await asyncio.to_thread(auth.end_session, engine, who.session_id)
    request[VIEWER] = None
    response = render(request, "desk/signed_out.jinja", {"signed_out": True})
    response.del_cookie(COOKIE, path="/desk/")
    return response
