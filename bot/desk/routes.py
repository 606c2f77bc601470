"""The desk's routes: its pages and signing in and out, mounted at `/desk` on kmb's app."""

from __future__ import annotations

import aiohttp_jinja2
import jinja2
from aiohttp import web

from bot.desk import auth, pages
from bot.desk import web as web_desk
from bot.engine import Engine


def mount(app: web.Application, engine: Engine) -> None:
    """Serve the desk at `/desk` (and NHS.UK frontend's images at `/assets`) on kmb's app."""
    desk = web.Application(middlewares=[web_desk.security_headers, web_desk.require_session])
    desk[web_desk.ENGINE] = engine
    desk[web_desk.LIMITER] = auth.RateLimit(engine)
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
    env.filters["plain"] = web_desk.plain
    routes = [
        ("GET", "/", pages.home),
        ("GET", "/sign-in", web_desk.sign_in_page),
        ("POST", "/sign-in", web_desk.sign_in),
        ("GET", "/sign-out", web_desk.sign_out_page),
        ("POST", "/sign-out", web_desk.sign_out),
        ("GET", "/queue", pages.queue_page),
        ("GET", "/enquiries/{ref}", pages.enquiry_page),
        ("POST", "/enquiries/{ref}/{action}", pages.enquiry_action),
        ("GET", "/mine", pages.mine_page),
        ("GET", "/stats", pages.stats_page),
        ("GET", "/stats.csv", pages.stats_csv),
        ("GET", "/projects", pages.projects_page),
        ("GET", "/projects/{id}", pages.project_page),
        ("GET", "/lessons", pages.lessons_page),
        ("GET", "/knowvember", pages.knowvember_page),
        ("GET", "/tools", pages.tools_page),
        ("GET", "/tools/{slug}", pages.tool_page),
    ]
    for method, path, handler in routes:
        desk.router.add_route(method, path, handler)
    desk.router.add_static("/static", web_desk.STATIC, append_version=False)
    app.router.add_get("/desk", _to_desk)
    app.add_subapp("/desk", desk)
    app.router.add_static("/assets", web_desk.STATIC / "nhsuk" / "assets")


async def _to_desk(request: web.Request) -> web.Response:
    raise web.HTTPFound("/desk/")
