"""The desk's pages: home, the queue, an enquiry and its actions, statistics, projects,
lessons, KNOWvember and the tool catalogue. Each checks the viewer's role itself."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from bot.desk import auth, figures, project_queries, queries
from bot.desk.actions import ACTIONS, act
from bot.desk.web import ENGINE, forbidden, not_found, plain, render, viewer_of
from bot.engine import Engine
from bot.features.enquiries import library
from bot.features.enquiries import stats as enquiry_stats
from bot.features.enquiries.closing import READ_SCALE
from bot.features.retros.answering import open_prompts
from bot.features.tools.catalogue import PHASE_TITLES

PERIODS = {
    "last 30 days": "The last 30 days",
    "last 90 days": "The last 90 days",
    "this month": "This month",
    "this year": "This year",
    "last year": "Last year",
}


async def home(request: web.Request) -> web.Response:
    """What this person can do on the desk."""
    engine = request.app[ENGINE]
    who = viewer_of(request)
    prompts = await asyncio.to_thread(open_prompts, engine, who.person_id)
    return render(request, "desk/home.jinja", {"prompts": prompts})


async def queue_page(request: web.Request) -> web.Response:
    """The library queue: filtered, sorted, paged (librarians)."""
    engine = request.app[ENGINE]
    who = viewer_of(request)
    if not who.has("librarian"):
        return forbidden(request)
    teams = library.library(engine).teams
    f = queries.QueueFilter.parse(request.query, {t.slug for t in teams})
    page = await asyncio.to_thread(queries.queue, engine, f, who.person_id)

    def link(**change: Any) -> str:
        return "/desk/queue?" + urlencode(f.query(**change))

    return render(
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
    who = viewer_of(request)
    librarian = who.has("librarian")
    view = await asyncio.to_thread(
        queries.enquiry, engine, request.match_info["ref"], who.person_id, librarian
    )
    if view is None:
        return not_found(request, "enquiry")
    if not errors:
        await asyncio.to_thread(_audit, engine, who.person_id, "desk.enquiry.view", view.id)
    people = await asyncio.to_thread(queries.librarians, engine) if librarian else []
    return render(
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
    who = viewer_of(request)
    action = request.match_info["action"]
    if not who.has("librarian"):
        return forbidden(request)
    if action not in ACTIONS:
        return not_found(request, "such action")
    view = await asyncio.to_thread(
        queries.enquiry, engine, request.match_info["ref"], who.person_id, True
    )
    if view is None:
        return not_found(request, "enquiry")
    form = await request.post()
    values = {k: str(v) for k, v in form.items() if k != "csrf"}
    outcome = await act(engine, who, action, view.id, view.reference, values)
    if outcome.errors:
        errors = {f"{action}-{fid}": message for fid, message in outcome.errors}
        return await _enquiry(request, errors, values, action, status=400)
    await asyncio.to_thread(auth.set_flash, engine, who.session_id, plain(outcome.message))
    raise web.HTTPSeeOther(f"/desk/enquiries/{view.reference}")


async def mine_page(request: web.Request) -> web.Response:
    """The enquiries this person made, and their prompts waiting for an answer."""
    engine = request.app[ENGINE]
    who = viewer_of(request)
    rows = await asyncio.to_thread(queries.own_enquiries, engine, who.person_id)
    prompts = await asyncio.to_thread(open_prompts, engine, who.person_id)
    return render(request, "desk/mine.jinja", {"rows": rows, "prompts": prompts})


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
    who = viewer_of(request)
    if not who.has("librarian"):
        return forbidden(request)
    start, end, label, frm, to = _period(request.query, engine.clock.now().date())
    counted = await asyncio.to_thread(figures.stats, engine, start, end, label)
    charts = [
        _chart("purpose", "Enquiries by purpose", counted.by_purpose),
        _chart("team", "Enquiries by library team", counted.by_team),
        _chart("month", "Enquiries by month", counted.by_month),
        _chart("read", "Effort of closed enquiries (READ scale)", counted.read),
        _chart("useful", "How useful requesters found the answer", counted.usefulness),
    ]
    csv_query = urlencode(
        {"from": start.isoformat(), "to": (end - dt.timedelta(days=1)).isoformat()}
    )
    return render(
        request,
        "desk/stats.jinja",
        {
            "s": counted,
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
    who = viewer_of(request)
    if not who.has("librarian"):
        return forbidden(request)
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
    who = viewer_of(request)
    rows = await asyncio.to_thread(
        project_queries.projects, engine, who.person_id, who.has("admin")
    )
    return render(request, "desk/projects.jinja", {"rows": rows})


async def project_page(request: web.Request) -> web.Response:
    """A project's plan; for its lead (or an admin) participation and digests too."""
    engine = request.app[ENGINE]
    who = viewer_of(request)
    ident = request.match_info["id"]
    data = (
        await asyncio.to_thread(
            project_queries.project, engine, int(ident), who.person_id, who.has("admin")
        )
        if ident.isdigit() and len(ident) < 10
        else None
    )
    if data is None:
        return not_found(request, "project")
    return render(request, "desk/project.jinja", data)


async def lessons_page(request: web.Request) -> web.Response:
    """The lessons log, searched by words."""
    engine = request.app[ENGINE]
    words = request.query.get("q", "")[:200]
    found = await asyncio.to_thread(project_queries.lessons, engine, words)
    return render(request, "desk/lessons.jinja", {"q": words, "found": found})


async def knowvember_page(request: web.Request) -> web.Response:
    """KNOWvember (and other campaigns): who took part and what they said, by day."""
    engine = request.app[ENGINE]
    if not viewer_of(request).has("librarian"):
        return forbidden(request)
    runs = await asyncio.to_thread(project_queries.campaign_results, engine)
    return render(request, "desk/knowvember.jinja", {"runs": runs})


async def tools_page(request: web.Request) -> web.Response:
    """The tool catalogue, grouped before, during and after."""
    tools = request.app[ENGINE].catalogue.tools.values()
    groups = [
        (title, sorted((t for t in tools if t.phases[0] == phase), key=lambda t: t.name))
        for phase, title in PHASE_TITLES.items()
    ]
    return render(request, "desk/tools.jinja", {"groups": [g for g in groups if g[1]]})


async def tool_page(request: web.Request) -> web.Response:
    """One tool and its steps."""
    tools = request.app[ENGINE].catalogue.tools
    tool = tools.get(request.match_info["slug"])
    if tool is None:
        return not_found(request, "tool")
    related = [tools[r] for r in tool.related if r in tools]
    return render(request, "desk/tool.jinja", {"tool": tool, "related": related})
