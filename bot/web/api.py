"""The JSON API under /api (the console's pages use it; OpenAPI at /api/openapi.json)."""

from __future__ import annotations

import asyncio
import re
import secrets
import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException

from bot.core.lifecycle import Lifecycle
from bot.core.types import IncomingMessage, ReactionEvent
from bot.web.chat import PLATFORM, WebSurface
from bot.web.security import current_admin, require_csrf

router = APIRouter(prefix="/api")
_REF = re.compile(r"^web-\d{1,18}$")


def chat_user(request: Request) -> str:
    """Who is chatting: the admin logged in, or a visitor when ``WEB_PUBLIC_CHAT`` is on."""
    name = current_admin(request)
    if name is not None:
        return name
    if not request.app.state.deps.public_chat:
        raise HTTPException(401, "log in first (POST /login), or set WEB_PUBLIC_CHAT=true")
    visitor = request.session.get("visitor")
    if not isinstance(visitor, str):
        visitor = request.session["visitor"] = f"visitor-{secrets.token_hex(6)}"
    return visitor


def csrf_header(request: Request,
                x_csrf_token: Annotated[str | None, Header()] = None) -> None:
    require_csrf(request, x_csrf_token)


User = Annotated[str, Depends(chat_user)]
Csrf = Depends(csrf_header)


class Ask(BaseModel):
    question: str = Field(min_length=1, max_length=20000)
    conversation: str = Field("", max_length=64, pattern=r"^[A-Za-z0-9_-]*$",
                              description="Ties follow-ups together; the page sends its own.")


class Vote(BaseModel):
    ref: str = Field(pattern=_REF.pattern, description="The answer's ref from `finish`.")
    score: Literal[1, -1]


class Handoff(BaseModel):
    ref: str = Field(pattern=_REF.pattern)


@router.post("/ask", dependencies=[Csrf], response_class=StreamingResponse,
             responses={200: {"content": {"text/event-stream": {}}}})
async def ask(body: Ask, request: Request, user: User) -> StreamingResponse:
    """Ask a question; the answer streams as server-sent events: ``working``, ``update``
    (the guarded answer so far), then ``finish`` (text, sources, ref) or ``notice``."""
    deps = request.app.state.deps
    surface = WebSurface(asyncio.get_running_loop())
    msg = IncomingMessage(PLATFORM, PLATFORM, user, body.question,
                          thread=body.conversation or uuid.uuid4().hex,
                          event_id=f"web:{uuid.uuid4().hex}")
    await asyncio.to_thread(Lifecycle(deps.router, deps.pool).handle, msg, surface)
    return StreamingResponse(surface.events(deps.answer_timeout),
                             media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


@router.post("/feedback", dependencies=[Csrf])
async def feedback(body: Vote, request: Request, user: User) -> dict[str, bool]:
    """Vote on an answer: one vote per user per answer, the latest wins."""
    event = ReactionEvent(PLATFORM, user, "+1" if body.score > 0 else "-1", body.ref)
    if not await asyncio.to_thread(request.app.state.deps.router.handle_reaction, event):
        raise HTTPException(404, f"no answer {body.ref} — vote on an answer shown here")
    return {"recorded": True}


@router.post("/handoff", dependencies=[Csrf])
async def handoff(body: Handoff, request: Request, user: User) -> dict[str, str]:
    """Ask for a person about an answer; recorded for the team."""
    text = await asyncio.to_thread(request.app.state.deps.router.request_human, PLATFORM, user,
                                   body.ref)
    return {"text": text}
