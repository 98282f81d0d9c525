"""The ASGI application (FastAPI): console pages, the JSON API, Slack's HTTP endpoint,
/healthz, /readyz and /metrics. ``create_app`` takes everything it uses as arguments.

Errors are one shape everywhere under /api: ``{"error": "…what to do…"}`` with a 4xx status.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Form, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException
from starlette.middleware.sessions import SessionMiddleware

from bot.core.limits import AnswerPool
from bot.core.router import Router
from bot.web import admin, api, browse, gaps, handoffs, review
from bot.web.metrics import CONTENT_TYPE, Metrics
from bot.web.ops import ConsoleOps, Jobs
from bot.web.security import (
    LoginLimiter,
    check_name,
    csrf_token,
    current_admin,
    password_ok,
    require_csrf,
)
from knowledge.errors import InputError

HERE = Path(__file__).parent
SESSION_COOKIE = "supportbot_session"


@dataclass
class WebDeps:
    """What the console needs, built by the composition root (``bot.runtime``) or a test."""

    store: Any  # bot.storage.Store: accounts, feedback, totals
    router: Router
    pool: AnswerPool
    ready: Callable[[], str | None]  # None when ready to answer, else why not
    secret_key: str
    public_chat: bool = False
    secure_cookies: bool = False
    answer_timeout: float = 120.0
    slack: Any | None = None  # bot.adapters.slack_http.SlackEndpoint, in Slack HTTP mode
    settings: dict[str, str] = field(default_factory=dict)  # Settings.masked(): no secrets
    ops: ConsoleOps | None = None  # the Knowledge and Model pages' actions


def create_app(deps: WebDeps) -> FastAPI:
    app = FastAPI(title="supportbot", version="1", docs_url="/api/docs",
                  openapi_url="/api/openapi.json", redoc_url=None)
    app.add_middleware(SessionMiddleware, secret_key=deps.secret_key,
                       session_cookie=SESSION_COOKIE, same_site="lax",
                       https_only=deps.secure_cookies, max_age=12 * 3600)
    app.state.deps, app.state.metrics = deps, Metrics(deps.store.totals, lambda: deps.pool.active)
    app.state.logins, app.state.jobs = LoginLimiter(), Jobs()
    deps.router.observers.append(app.state.metrics.observe)
    templates = app.state.templates = Jinja2Templates(directory=HERE / "templates")
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.include_router(api.router)
    app.include_router(browse.router)
    app.include_router(admin.router)
    app.include_router(review.router)
    app.include_router(handoffs.router)
    app.include_router(gaps.router)
    _errors(app)
    _operations(app, deps)
    _pages(app, deps, templates)
    return app


def _errors(app: FastAPI) -> None:
    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        if exc.status_code == 401 and not request.url.path.startswith("/api/"):
            return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
        return JSONResponse({"error": str(exc.detail)}, status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ())[1:]) or "request"
        return JSONResponse({"error": f"{where}: {first.get('msg', 'invalid')}"}, 422)

    @app.exception_handler(InputError)
    async def bad_input(request: Request, exc: InputError) -> Response:
        return JSONResponse({"error": str(exc)}, status_code=400)


def _operations(app: FastAPI, deps: WebDeps) -> None:
    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> Response:
        reason = await asyncio.to_thread(deps.ready)
        if reason:
            return JSONResponse({"error": reason}, status_code=503)
        return JSONResponse({"status": "ready"})

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        body = await asyncio.to_thread(app.state.metrics.render)
        return Response(body, media_type=CONTENT_TYPE)

    @app.post("/slack/events", include_in_schema=False)
    async def slack_events(request: Request) -> Response:
        if deps.slack is None:
            raise HTTPException(404, "Slack's HTTP mode is not configured (SLACK_MODE=http)")
        return await deps.slack.handle(request)


def _pages(app: FastAPI, deps: WebDeps, templates: Jinja2Templates) -> None:
    @app.get("/", include_in_schema=False)
    async def home() -> Response:
        return RedirectResponse("/chat", status_code=303)

    @app.get("/login", include_in_schema=False)
    async def login_page(request: Request, next: str = "/chat") -> Response:
        return templates.TemplateResponse(request, "login.html", {
            "csrf": csrf_token(request), "next": _local(next), "error": ""})

    @app.post("/login", include_in_schema=False)
    async def login(request: Request, name: str = Form(""), password: str = Form(""),
                    csrf: str = Form(""), next: str = Form("/chat")) -> Response:
        require_csrf(request, csrf)
        address = request.client.host if request.client else "?"
        keys = (f"name:{name.strip().lower()}", f"ip:{address}")
        if app.state.logins.blocked(*keys):
            return _login_error(request, templates, next, 429,
                                "Too many failed logins — wait five minutes and try again.")
        try:
            login: str | None = check_name(name)
        except InputError:
            login = None
        stored = await asyncio.to_thread(deps.store.admin_hash, login) if login else None
        ok = await asyncio.to_thread(password_ok, stored, password)  # slow for unknown names too
        if not ok or login is None:
            app.state.logins.failed(*keys)
            return _login_error(request, templates, next, 401, "Wrong name or password.")
        request.session.clear()
        request.session["admin"] = login
        await asyncio.to_thread(deps.store.record_admin_action, "web", login, "login", True)
        return RedirectResponse(_local(next), status_code=303)

    @app.post("/logout", include_in_schema=False)
    async def logout(request: Request, csrf: str = Form("")) -> Response:
        require_csrf(request, csrf)
        request.session.clear()
        return RedirectResponse("/login", status_code=303)

    @app.get("/chat", include_in_schema=False)
    async def chat(request: Request) -> Response:
        user = current_admin(request)
        if user is None and not deps.public_chat:
            return RedirectResponse("/login?next=/chat", status_code=303)
        return templates.TemplateResponse(request, "chat.html", {
            "csrf": csrf_token(request), "user": user})


def _login_error(request: Request, templates: Jinja2Templates, next: str, status: int,
                 message: str) -> Response:
    return templates.TemplateResponse(request, "login.html", {
        "csrf": csrf_token(request), "next": _local(next), "error": message},
        status_code=status)


def _local(path: str) -> str:
    """Only a path on this site is a place to go after logging in (no open redirect)."""
    return path if path.startswith("/") and not path.startswith("//") else "/chat"
