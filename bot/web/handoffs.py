"""The console's Hand-offs page and its API (admins only): every request for a person with its
question and answer; Claim, Resolve, and Resolve with the answer given (which becomes a
verified answer). The same core service as the chat platforms' buttons and the CLI, so each
change is audited and the post in the support channel is updated."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field

from bot.core.handoff import HandoffService
from bot.web.api import csrf_header
from bot.web.browse import Admin
from bot.web.security import csrf_token

router = APIRouter()
Csrf = Depends(csrf_header)
Status = Annotated[Literal["open", "claimed", "resolved"] | None, Query()]


class Resolution(BaseModel):
    answer: str | None = Field(None, max_length=20000,
                               description="The answer given: it becomes a verified answer.")


def service(request: Request) -> HandoffService:
    return request.app.state.deps.router.handoffs


@router.get("/api/handoffs")
async def list_handoffs(request: Request, _: Admin,
                        status: Status = None) -> dict[str, Any]:
    """Hand-offs, newest first (200 at most); ``status``: open, claimed or resolved."""
    found = await asyncio.to_thread(service(request).list, status)
    return {"handoffs": [h.as_dict() for h in found]}


@router.post("/api/handoffs/{handoff_id}/claim", dependencies=[Csrf])
async def claim(request: Request, handoff_id: int, user: Admin) -> dict[str, Any]:
    """open → claimed by you (400 with the reason when it is not open)."""
    view = await asyncio.to_thread(service(request).claim, handoff_id, "web", user)
    return {"handoff": view.as_dict()}


@router.post("/api/handoffs/{handoff_id}/resolve", dependencies=[Csrf])
async def resolve(request: Request, handoff_id: int, body: Resolution,
                  user: Admin) -> dict[str, Any]:
    """→ resolved by you; with ``answer``, it is the verified answer to the question."""
    view = await asyncio.to_thread(service(request).resolve, handoff_id, "web", user,
                                   body.answer)
    return {"handoff": view.as_dict()}


@router.get("/handoffs", include_in_schema=False, response_class=HTMLResponse)
async def handoffs_page(request: Request, user: Admin,
                        status: Status = None) -> Response:
    found = await list_handoffs(request, user, status)
    return request.app.state.templates.TemplateResponse(request, "handoffs.html", {
        "csrf": csrf_token(request), "user": user, "status": status or "", **found})
