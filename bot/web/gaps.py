"""The console's Gaps page and its API (admins only): the knowledge gaps (``knowledge.gaps``),
questions the documents do not answer, grouped by meaning, most users first. Read only."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from starlette.exceptions import HTTPException

from bot.web.admin import ops_of
from bot.web.browse import Admin
from bot.web.security import csrf_token
from knowledge.errors import SupportbotError

router = APIRouter()
LIMIT = 20


async def find_gaps(request: Request, limit: int) -> list[dict[str, Any]]:
    """The gaps, or a 409 saying what to do (no index yet, say)."""
    ops = ops_of(request)[0]
    try:
        found: list[dict[str, Any]] = await asyncio.to_thread(ops.gaps, limit)
    except SupportbotError as exc:
        raise HTTPException(409, str(exc)) from None
    return found


@router.get("/api/gaps")
async def gaps(request: Request, _: Admin,
               limit: int = Query(LIMIT, ge=1, le=200)) -> dict[str, Any]:
    """Questions the bot declined, or whose answer was voted down or marked missing, grouped
    by meaning: label, count, users, questions, nearest_sources; most users first."""
    return {"gaps": await find_gaps(request, limit)}


@router.get("/gaps", include_in_schema=False, response_class=HTMLResponse)
async def gaps_page(request: Request, user: Admin,
                    limit: int = Query(LIMIT, ge=1, le=200)) -> Response:
    try:
        found, error = await find_gaps(request, limit), ""
    except HTTPException as exc:
        found, error = [], str(exc.detail)
    return request.app.state.templates.TemplateResponse(request, "gaps.html", {
        "csrf": csrf_token(request), "user": user, "gaps": found, "error": error,
        "limit": limit})
