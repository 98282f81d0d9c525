"""The console's Conversations: the API (``/api/conversations``) and the pages, which render
the same store calls server-side (admins only)."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from starlette.exceptions import HTTPException

from bot.storage.browse import ConversationFilter
from bot.web.security import csrf_token, current_admin

router = APIRouter()


def require_admin(request: Request) -> str:
    name = current_admin(request)
    if name is None:
        raise HTTPException(401, "log in as an admin first (POST /login)")
    return name


Admin = Annotated[str, Depends(require_admin)]


def filters(platform: str = Query("", max_length=32), voted_down: bool = False,
            declined: bool = False, adapter: str = Query("", max_length=256),
            q: str = Query("", max_length=200)) -> ConversationFilter:
    return ConversationFilter(platform, voted_down, declined, adapter, q)


def parse_cursor(cursor: str) -> tuple[datetime, int] | None:
    if not cursor:
        return None
    stamp, _, ident = cursor.rpartition("|")
    try:
        return datetime.fromisoformat(stamp), int(ident)
    except ValueError:
        raise HTTPException(400, "cursor: use the `next` value of the previous page") from None


async def page_of(request: Request, where: ConversationFilter,
                  cursor: str) -> dict[str, Any]:
    rows = await asyncio.to_thread(request.app.state.deps.store.conversations, where,
                                   parse_cursor(cursor))
    last = rows[-1] if len(rows) == 50 else None
    following = (f"{last.updated_at.isoformat()}|{last.id}"
                 if last is not None and last.updated_at else None)
    return {"conversations": [r.as_dict() for r in rows], "next": following}


@router.get("/api/conversations")
async def list_conversations(request: Request, _: Admin,
                             where: Annotated[ConversationFilter, Depends(filters)],
                             cursor: str = Query("", max_length=80)) -> dict[str, Any]:
    """Conversations, newest activity first, 50 a page; filters: platform, voted_down,
    declined, adapter, q (text)."""
    return await page_of(request, where, cursor)


@router.get("/api/conversations/{conversation_id}")
async def one_conversation(request: Request, conversation_id: int,
                           _: Admin) -> dict[str, Any]:
    """One conversation's questions and answers, with sources, votes and latency."""
    messages = await asyncio.to_thread(request.app.state.deps.store.conversation_messages,
                                       conversation_id)
    if messages is None:
        raise HTTPException(404, f"no conversation {conversation_id}")
    return {"id": conversation_id, "messages": messages}


@router.get("/conversations", include_in_schema=False, response_class=HTMLResponse)
async def conversations_page(request: Request, user: Admin,
                             where: Annotated[ConversationFilter, Depends(filters)],
                             cursor: str = Query("", max_length=80)) -> Response:
    found = await page_of(request, where, cursor)
    return request.app.state.templates.TemplateResponse(request, "conversations.html", {
        "csrf": csrf_token(request), "user": user, "where": where, **found})


@router.get("/conversations/{conversation_id}", include_in_schema=False,
            response_class=HTMLResponse)
async def conversation_page(request: Request, conversation_id: int, user: Admin) -> Response:
    found = await one_conversation(request, conversation_id, user)
    return request.app.state.templates.TemplateResponse(request, "conversation.html", {
        "csrf": csrf_token(request), "user": user, **found})


@router.get("/api/settings")
async def settings(request: Request, _: Admin) -> dict[str, str]:
    """What is configured (secrets only as set or not set)."""
    return dict(request.app.state.deps.settings)


@router.get("/settings", include_in_schema=False, response_class=HTMLResponse)
async def settings_page(request: Request, user: Admin) -> Response:
    return request.app.state.templates.TemplateResponse(request, "settings.html", {
        "csrf": csrf_token(request), "user": user,
        "settings": sorted(request.app.state.deps.settings.items())})


COLOURS = ("#1d3557", "#e63946", "#2a9d8f", "#e9c46a", "#8d99ae", "#6d597a")
METRICS = (("answers", "Answers"), ("declines", "Declines"), ("up", "👍 votes"),
           ("down", "👎 votes"))


@router.get("/api/trends")
async def trend_rows(request: Request, _: Admin,
                     days: int = Query(30, ge=1, le=365)) -> dict[str, Any]:
    """Per day and adapter version: answers, declines, 👍 and 👎 votes."""
    rows = await asyncio.to_thread(request.app.state.deps.store.trends, days)
    return {"days": days, "rows": rows}


def charts(rows: list[dict[str, Any]], width: int = 640,
           height: int = 120) -> list[dict[str, Any]]:
    """One line chart per metric, one line per adapter version: SVG points, drawn by the
    template (no chart library, nothing from a CDN)."""
    days = sorted({r["day"] for r in rows})
    adapters = sorted({r["adapter"] for r in rows})
    step = width / max(1, len(days) - 1)
    out = []
    for key, title in METRICS:
        value = {(r["day"], r["adapter"]): r[key] for r in rows}
        top = max([1, *value.values()])
        def y(day: str, adapter: str, top: int = top, value: dict[Any, int] = value) -> str:
            return f"{height - value.get((day, adapter), 0) * height / top:.0f}"

        lines = [{"adapter": a, "colour": COLOURS[n % len(COLOURS)],
                  "points": " ".join(f"{i * step:.0f},{y(d, a)}" for i, d in enumerate(days))}
                 for n, a in enumerate(adapters)]
        out.append({"title": title, "top": top, "lines": lines})
    return out


@router.get("/trends", include_in_schema=False, response_class=HTMLResponse)
async def trends_page(request: Request, user: Admin,
                      days: int = Query(30, ge=1, le=365)) -> Response:
    found = await trend_rows(request, user, days)
    return request.app.state.templates.TemplateResponse(request, "trends.html", {
        "csrf": csrf_token(request), "user": user, "days": days,
        "first": found["rows"][0]["day"] if found["rows"] else "",
        "last": found["rows"][-1]["day"] if found["rows"] else "",
        "charts": charts(found["rows"])})


@router.get("/api/metrics")
async def metrics_summary(request: Request, _: Admin) -> dict[str, Any]:
    """The console's summary of /metrics: stored totals (questions, votes, hand-offs, refresh
    and training runs), this process's answers by outcome and latency, the queue depth."""
    deps = request.app.state.deps
    totals = await asyncio.to_thread(deps.store.totals)
    return {"totals": totals, **request.app.state.metrics.summary(),
            "queue_depth": deps.pool.active}
