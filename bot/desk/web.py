"""The desk's web pages (aiohttp + Jinja with the NHS.UK frontend components).

Every page but sign-in needs a live session; every form post carries the session's CSRF token;
every response carries a Content Security Policy that allows no inline script and nothing from
elsewhere; roles are checked on every request, and enquiries against the viewer each time.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hmac
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp_jinja2
import jinja2
from aiohttp import web

from bot.desk import auth, queries
from bot.desk.actions import ACTIONS, act
from bot.engine import Engine
from bot.features import enquiry_stats, library
from bot.features.enquiry_desk import READ_SCALE

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
PERIODS = {
    "last 30 days": "The last 30 days",
    "last 90 days": "The last 90 days",
    "this month": "This month",
    "this year": "This year",
    "last year": "Last year",
}


def mount(app: web.Application, engine: Engine) -> None:
    """Serve the desk at `/desk` (and NHS.UK frontend's images at `/assets`) on kmb's app."""
    desk = web.Application(middlewares=[_headers, _session])
    desk[ENGINE] = engine
    desk[LIMITER] = auth.RateLimit(engine)
    env = aiohttp_jinja2.setup(
        desk,
        loader=jinja2.ChoiceLoader(
            [
                jinja2.PackageLoader("bot.desk", "templates"),
                jinja2.PackageLoader(
                    "nhsuk_frontend_jinja", package_path="templates/nhsuk/components"
                ),
                jinja2.PackageLoader("nhsuk_frontend_jinja"),
            ]
        ),
        autoescape=True,
        undefined=jinja2.ChainableUndefined,
    )
    env.filters["day"] = lambda d: f"{d:%d %b %Y}" if d else ""
    env.filters["when"] = lambda d: f"{d:%d %b %Y, %H:%M}" if d else ""
    env.filters["plain"] = _plain
    routes = [
        ("GET", "/", home),
        ("GET", "/sign-in", sign_in_page),
        ("POST", "/sign-in", sign_in),
        ("GET", "/sign-out", sign_out_page),
        ("POST", "/sign-out", sign_out),
        ("GET", "/queue", queue_page),
        ("GET", "/enquiries/{ref}", enquiry_page),
        ("POST", "/enquiries/{ref}/{action}", enquiry_action),
        ("GET", "/mine", mine_page),
        ("GET", "/stats", stats_page),
        ("GET", "/stats.csv", stats_csv),
        ("GET", "/projects", projects_page),
        ("GET", "/projects/{id}", project_page),
        ("GET", "/lessons", lessons_page),
        ("GET", "/knowvember", knowvember_page),
        ("GET", "/tools", tools_page),
        ("GET", "/tools/{slug}", tool_page),
    ]
    for method, path, handler in routes:
        desk.router.add_route(method, path, handler)
    desk.router.add_static("/static", STATIC, append_version=False)
    app.router.add_get("/desk", _to_desk)
    app.add_subapp("/desk", desk)
    app.router.add_static("/assets", STATIC / "nhsuk" / "assets")


async def _to_desk(request: web.Request) -> web.Response:
    raise web.HTTPFound("/desk/")


def _plain(text: str) -> str:
    """Chat's light markup (`*bold*`, `code`) as plain words for a web page."""
    return re.sub(r"[*`_]", "", text)


# --- middleware ---------------------------------------------------------------------------------


@web.middleware
async def _headers(request: web.Request, handler: Handler) -> web.StreamResponse:
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
async def _session(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Find the signed-in person; refuse pages without one and posts without the CSRF token."""
    if request.path.startswith(OPEN_PATHS):
        return await handler(request)
    engine = request.app[ENGINE]
    who = await asyncio.to_thread(auth.viewer, engine, request.cookies.get(COOKIE))
    if who is None:
        return _render(request, "desk/signed_out.jinja", {}, status=401)
    if request.method == "POST":
        form = await request.post()
        sent = str(form.get("csrf", ""))
        if not hmac.compare_digest(sent.encode(), who.csrf.encode()):
            return _render(
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


def _viewer(request: web.Request) -> auth.Viewer:
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


def _render(
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


def _forbidden(request: web.Request) -> web.Response:
    return _render(
        request,
        "desk/error.jinja",
        {
            "title": "You can't see this page",
            "message": "This page is for the library team. Ask your kmb admin if you need it.",
        },
        status=403,
    )


def _not_found(request: web.Request, what: str) -> web.Response:
    return _render(
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
    response = _render(request, "desk/sign_in.jinja", {"token": token, "pre": pre})
    _cookie(request, response, PRE_COOKIE, pre, max_age=600)
    return response


async def sign_in(request: web.Request) -> web.Response:
    """Spend the link's token and start a session (rate-limited per address)."""
    engine = request.app[ENGINE]
    if not request.app[LIMITER].allow(request.remote or "?"):
        return _render(
            request,
            "desk/error.jinja",
            {"title": "Too many attempts", "message": "Please wait a minute and try again."},
            status=429,
        )
    form = await request.post()
    pre = request.cookies.get(PRE_COOKIE, "")
    if not pre or not hmac.compare_digest(str(form.get("pre", "")).encode(), pre.encode()):
        return _render(request, "desk/link_refused.jinja", {}, status=403)
    provider = auth.ChatLinkProvider()
    current = await asyncio.to_thread(auth.viewer, engine, request.cookies.get(COOKIE))
    identity = await asyncio.to_thread(
        provider.identify,
        engine,
        str(form.get("token", "")),
        current.person_id if current else None,
    )
    if identity is None:
        return _render(request, "desk/link_refused.jinja", {}, status=403)
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
    return _render(request, "desk/sign_out.jinja", {})


async def sign_out(request: web.Request) -> web.Response:
    """End this session, or all of this person's sessions."""
    engine = request.app[ENGINE]
    who = _viewer(request)
    form = await request.post()
    if form.get("everywhere") == "yes":
        await asyncio.to_thread(auth.end_all_sessions, engine, who.person_id)
    else:
        await asyncio.to_thread(auth.end_session, engine, who.session_id)
    request[VIEWER] = None
    response = _render(request, "desk/signed_out.jinja", {"signed_out": True})
    response.del_cookie(COOKIE, path="/desk/")
    return response


# --- pages ---------------------------------------------------------------------------------------


async def home(request: web.Request) -> web.Response:
    """What this person can do on the desk."""
    from bot.features.retros import open_prompts

    engine = request.app[ENGINE]
    who = _viewer(request)
    prompts = await asyncio.to_thread(open_prompts, engine, who.person_id)
    return _render(request, "desk/home.jinja", {"prompts": prompts})


async def queue_page(request: web.Request) -> web.Response:
    """The library queue: filtered, sorted, paged (librarians)."""
    engine = request.app[ENGINE]
    who = _viewer(request)
    if not who.has("librarian"):
        return _forbidden(request)
    teams = library.library(engine).teams
    f = queries.QueueFilter.parse(request.query, {t.slug for t in teams})
    page = await asyncio.to_thread(queries.queue, engine, f, who.person_id)

    def link(**change: Any) -> str:
        return "/desk/queue?" + urlencode(f.query(**change))

    return _render(
        request,
        "desk/queue.jinja",
        {
            "f": f,
            "page": page,
            "teams": teams,
            "statuses": queries.STATUSES,
            "sorts": queries.SORTS,
            "link": link,
        },
    )


async def enquiry_page(request: web.Request) -> web.Response:
    """One enquiry: details, history and (librarians) the actions."""
    return await _enquiry(request, {}, {})


async def _enquiry(
    request: web.Request,
    errors: Mapping[str, str],
    values: Mapping[str, str],
    action: str = "",
    status: int = 200,
) -> web.Response:
    engine = request.app[ENGINE]
    who = _viewer(request)
    librarian = who.has("librarian")
    view = await asyncio.to_thread(
        queries.enquiry, engine, request.match_info["ref"], who.person_id, librarian
    )
    if view is None:
        return _not_found(request, "enquiry")
    if not errors:
        await asyncio.to_thread(_audit, engine, who.person_id, "desk.enquiry.view", view.id)
    people = await asyncio.to_thread(queries.librarians, engine) if librarian else []
    return _render(
        request,
        "desk/enquiry.jinja",
        {
            "e": view,
            "librarian": librarian,
            "teams": library.library(engine).teams,
            "people": people,
            "read_scale": READ_SCALE,
            "errors": errors,
            "values": values,
            "action": action,
        },
        status=status,
    )


def _audit(engine: Engine, person_id: int, action: str, enquiry_id: int) -> None:
    with engine.store.session() as s:
        engine.store.audit(s, person_id, action, {"enquiry": enquiry_id})


async def enquiry_action(request: web.Request) -> web.Response:
    """Claim, transfer, reply, note or close: the same engine functions as chat."""
    engine = request.app[ENGINE]
    who = _viewer(request)
    action = request.match_info["action"]
    if not who.has("librarian"):
        return _forbidden(request)
    if action not in ACTIONS:
        return _not_found(request, "such action")
    view = await asyncio.to_thread(
        queries.enquiry, engine, request.match_info["ref"], who.person_id, True
    )
    if view is None:
        return _not_found(request, "enquiry")
    form = await request.post()
    values = {k: str(v) for k, v in form.items() if k != "csrf"}
    outcome = await act(engine, who, action, view.id, view.reference, values)
    if outcome.errors:
        errors = {f"{action}-{fid}": message for fid, message in outcome.errors}
        return await _enquiry(request, errors, values, action, status=400)
    await asyncio.to_thread(auth.set_flash, engine, who.session_id, _plain(outcome.message))
    raise web.HTTPSeeOther(f"/desk/enquiries/{view.reference}")


async def mine_page(request: web.Request) -> web.Response:
    """The enquiries this person made, and their prompts waiting for an answer."""
    from bot.features.retros import open_prompts

    engine = request.app[ENGINE]
    who = _viewer(request)
    rows = await asyncio.to_thread(queries.own_enquiries, engine, who.person_id)
    prompts = await asyncio.to_thread(open_prompts, engine, who.person_id)
    return _render(request, "desk/mine.jinja", {"rows": rows, "prompts": prompts})


def _period(q: Mapping[str, str], today: dt.date) -> tuple[dt.date, dt.date, str, str, str]:
    """(start, end, label, from, to) from the stats form: a preset, or from/to dates."""
    start_s, end_s = q.get("from", "").strip(), q.get("to", "").strip()
    if start_s or end_s:
        try:
            start = dt.date.fromisoformat(start_s) if start_s else today.replace(month=1, day=1)
            last = dt.date.fromisoformat(end_s) if end_s else today
        except ValueError:
            start, last = today - dt.timedelta(days=30), today
        if last < start:
            start, last = last, start
        label = f"{start:%d %b %Y} to {last:%d %b %Y}"
        return start, last + dt.timedelta(days=1), label, start.isoformat(), last.isoformat()
    preset = q.get("period", "last 30 days")
    if preset == "last year":
        preset = str(today.year - 1)
    found = enquiry_stats.period(preset if preset in PERIODS or preset.isdigit() else "", today)
    assert found is not None
    start, end, label = found
    return start, end, label, "", ""


async def stats_page(request: web.Request) -> web.Response:
    """A period's figures as charts, each with its data table, and the CSV link."""
    engine = request.app[ENGINE]
    who = _viewer(request)
    if not who.has("librarian"):
        return _forbidden(request)
    start, end, label, frm, to = _period(request.query, engine.clock.now().date())
    figures = await asyncio.to_thread(queries.stats, engine, start, end, label)
    charts = [
        _chart("purpose", "Enquiries by purpose", figures.by_purpose),
        _chart("team", "Enquiries by library team", figures.by_team),
        _chart("month", "Enquiries by month", figures.by_month),
        _chart("read", "Effort of closed enquiries (READ scale)", figures.read),
        _chart("useful", "How useful requesters found the answer", figures.usefulness),
    ]
    csv_query = urlencode(
        {"from": start.isoformat(), "to": (end - dt.timedelta(days=1)).isoformat()}
    )
    return _render(
        request,
        "desk/stats.jinja",
        {
            "s": figures,
            "charts": charts,
            "periods": PERIODS,
            "chosen": request.query.get("period", "last 30 days"),
            "frm": frm,
            "to": to,
            "csv": f"/desk/stats.csv?{csv_query}",
        },
    )


def _chart(ident: str, title: str, items: list[tuple[str, int]]) -> dict[str, Any]:
    top = max((v for _, v in items), default=0)
    bars = [
        {"label": label, "value": value, "width": round(200 * value / top) if top else 0}
        for label, value in items
    ]
    return {"id": ident, "title": title, "bars": bars, "height": 40 * len(bars) + 8}


async def stats_csv(request: web.Request) -> web.Response:
    """The period's enquiries as CSV for returns (no names), as `kmb export enquiries`."""
    engine = request.app[ENGINE]
    who = _viewer(request)
    if not who.has("librarian"):
        return _forbidden(request)
    start, end, *_ = _period(request.query, engine.clock.now().date())

    def build() -> str:
        rows = [
            {k: _cell(v) for k, v in row.items()} for row in enquiry_stats.rows(engine, start, end)
        ]
        text = enquiry_stats.to_csv(rows)
        with engine.store.session() as s:
            engine.store.audit(
                s, who.person_id, "desk.export", {"from": start.isoformat(), "to": end.isoformat()}
            )
        return text

    body = await asyncio.to_thread(build)
    return web.Response(
        text=body,
        content_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="enquiries-{start}-to-{end}.csv"'},
    )


def _cell(value: Any) -> Any:
    """A CSV cell a spreadsheet shows as text: free text starting like a formula is quoted."""
    if isinstance(value, str) and value.startswith(("=", "+", "-", "@", "\t", "\r")):
        return "'" + value
    return value


async def projects_page(request: web.Request) -> web.Response:
    """The projects this person leads or belongs to (admins: every project)."""
    engine = request.app[ENGINE]
    who = _viewer(request)
    rows = await asyncio.to_thread(queries.projects, engine, who.person_id, who.has("admin"))
    return _render(request, "desk/projects.jinja", {"rows": rows})


async def project_page(request: web.Request) -> web.Response:
    """A project's plan; for its lead (or an admin) participation and digests too."""
    engine = request.app[ENGINE]
    who = _viewer(request)
    ident = request.match_info["id"]
    data = (
        await asyncio.to_thread(
            queries.project, engine, int(ident), who.person_id, who.has("admin")
        )
        if ident.isdigit() and len(ident) < 10
        else None
    )
    if data is None:
        return _not_found(request, "project")
    return _render(request, "desk/project.jinja", data)


async def lessons_page(request: web.Request) -> web.Response:
    """The lessons log, searched by words."""
    engine = request.app[ENGINE]
    words = request.query.get("q", "")[:200]
    found = await asyncio.to_thread(queries.lessons, engine, words)
    return _render(request, "desk/lessons.jinja", {"q": words, "found": found})


async def knowvember_page(request: web.Request) -> web.Response:
    """KNOWvember (and other campaigns): who took part and what they said, by day."""
    engine = request.app[ENGINE]
    if not _viewer(request).has("librarian"):
        return _forbidden(request)
    runs = await asyncio.to_thread(queries.campaign_results, engine)
    return _render(request, "desk/knowvember.jinja", {"runs": runs})


async def tools_page(request: web.Request) -> web.Response:
    """The tool catalogue, grouped before, during and after."""
    from bot.features.tools import PHASE_TITLES

    tools = request.app[ENGINE].catalogue.tools.values()
    groups = [
        (title, sorted((t for t in tools if t.phases[0] == phase), key=lambda t: t.name))
        for phase, title in PHASE_TITLES.items()
    ]
    return _render(request, "desk/tools.jinja", {"groups": [g for g in groups if g[1]]})


async def tool_page(request: web.Request) -> web.Response:
    """One tool and its steps."""
    tools = request.app[ENGINE].catalogue.tools
    tool = tools.get(request.match_info["slug"])
    if tool is None:
        return _not_found(request, "tool")
    related = [tools[r] for r in tool.related if r in tools]
    return _render(request, "desk/tool.jinja", {"tool": tool, "related": related})
