"""The console's Review and Verified pages and their API (admins only): the review queue of
👎'd, declined, handed-off and guard-cut answers with its actions (correct, approve, dismiss,
"the docs are missing this"), and the verified answers with edit and retract. Every action
needs the CSRF token and is recorded in the admin audit log.

The pages post plain forms (the ``csrf`` field) and come back with a notice; the API takes
JSON with the ``X-CSRF-Token`` header, like the rest of /api."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from bot.core.review import ACTIONS, KINDS, MAX_PAGE, PAGE, Action, Kind, Sort
from bot.web.api import csrf_header
from bot.web.browse import Admin
from bot.web.security import csrf_token, require_csrf
from knowledge.errors import InputError

router = APIRouter()
Csrf = Depends(csrf_header)
Edit = Literal["edit", "retract"]
DONE = {"approve": "Approved answer {id}: verified answer {verified} is served from now on.",
        "correct": "Corrected answer {id}: verified answer {verified} is served from now on.",
        "dismiss": "Dismissed answer {id}.",
        "missing": "Answer {id} is marked missing from the docs (it feeds the gap report).",
        "edit": "Verified answer {id} now says the new text.",
        "retract": "Retracted verified answer {id}: the model answers that question again."}


class ReviewAction(BaseModel):
    action: Action
    text: str = Field("", max_length=20000, description="The correction (action: correct).")


class VerifiedAction(BaseModel):
    action: Edit
    text: str = Field("", max_length=20000, description="The new answer (action: edit).")


def queue_query(kind: Annotated[list[Kind], Query()] = [],  # noqa: B006 (FastAPI's idiom)
                sort: Sort = "newest", limit: int = Query(PAGE, ge=1, le=MAX_PAGE),
                offset: int = Query(0, ge=0)) -> dict[str, Any]:
    return {"kinds": tuple(kind), "sort": sort, "limit": limit, "offset": offset}


Queue = Annotated[dict[str, Any], Depends(queue_query)]


async def review_action(request: Request, user: str, message_id: int, action: str,
                        text: str) -> int | None:
    """Do one reviewer action and audit it; the verified answer's id for approve/correct."""
    store = request.app.state.deps.store
    verified: int | None = await asyncio.to_thread(store.act_on_review, message_id, action,
                                                   user, text or None)
    await asyncio.to_thread(store.record_admin_action, "web", user,
                            f"review {action} {message_id}", True)
    return verified


async def verified_action(request: Request, user: str, verified_id: int, action: str,
                          text: str) -> None:
    """Edit or retract a verified answer and audit it."""
    store = request.app.state.deps.store
    if action == "edit":
        await asyncio.to_thread(store.edit_verified, verified_id, text, user)
    elif not await asyncio.to_thread(store.retract_verified, verified_id):
        raise InputError(f"{verified_id}: no verified answer is served with this id — "
                         "reload the Verified page")
    await asyncio.to_thread(store.record_admin_action, "web", user,
                            f"verified {action} {verified_id}", True)


@router.get("/api/review")
async def review_queue(request: Request, _: Admin, query: Queue) -> dict[str, Any]:
    """The review queue: ``kind`` (repeatable; default all), ``sort`` newest or asked,
    ``limit``, ``offset``."""
    items = await asyncio.to_thread(request.app.state.deps.store.review_queue,
                                    query["kinds"], query["sort"], query["limit"], None,
                                    query["offset"])
    return {"review": [item.as_dict() for item in items]}


@router.post("/api/review/{message_id}", dependencies=[Csrf])
async def act_on_review(message_id: int, body: ReviewAction, request: Request,
                        user: Admin) -> dict[str, Any]:
    """approve, correct (with ``text``), dismiss, or missing ("the docs are missing this")."""
    verified = await review_action(request, user, message_id, body.action, body.text)
    return {"message_id": message_id, "action": body.action, "verified_id": verified}


@router.get("/api/verified")
async def verified_answers(request: Request, _: Admin) -> dict[str, Any]:
    """The verified answers being served."""
    entries = await asyncio.to_thread(request.app.state.deps.store.verified_answers)
    return {"verified": [{"id": e.id, "question": e.question, "answer": e.answer,
                          "author": e.author, "created_at": e.created_at} for e in entries]}


@router.post("/api/verified/{verified_id}", dependencies=[Csrf])
async def change_verified(verified_id: int, body: VerifiedAction, request: Request,
                          user: Admin) -> dict[str, Any]:
    """edit (with ``text``) or retract a verified answer."""
    await verified_action(request, user, verified_id, body.action, body.text)
    return {"id": verified_id, "action": body.action}


@router.get("/review", include_in_schema=False, response_class=HTMLResponse)
async def review_page(request: Request, user: Admin, query: Queue) -> Response:
    found = await review_queue(request, user, query)
    following = (f"{request.url.path}?{_with_offset(request, query['offset'] + query['limit'])}"
                 if len(found["review"]) == query["limit"] else "")
    return request.app.state.templates.TemplateResponse(request, "review.html", {
        "csrf": csrf_token(request), "user": user, "kinds": KINDS, "actions": ACTIONS,
        "chosen": query["kinds"], "sort": query["sort"], "next": following,
        "back": str(request.url.path) + (f"?{request.url.query}" if request.url.query else ""),
        "notice": request.session.pop("notice", ""), **found})


@router.post("/review/{message_id}", include_in_schema=False)
async def review_form(request: Request, message_id: int, user: Admin,
                      action: Annotated[str, Form()] = "", text: Annotated[str, Form()] = "",
                      csrf: Annotated[str, Form()] = "",
                      back: Annotated[str, Form()] = "/review") -> Response:
    require_csrf(request, csrf)
    try:
        verified = await review_action(request, user, message_id, action, text)
        request.session["notice"] = DONE[action].format(id=message_id, verified=verified)
    except InputError as exc:
        request.session["notice"] = f"Not done: {exc}"
    return RedirectResponse(_back(back, "/review"), status_code=303)


@router.get("/verified", include_in_schema=False, response_class=HTMLResponse)
async def verified_page(request: Request, user: Admin) -> Response:
    found = await verified_answers(request, user)
    return request.app.state.templates.TemplateResponse(request, "verified.html", {
        "csrf": csrf_token(request), "user": user,
        "notice": request.session.pop("notice", ""), **found})


@router.post("/verified/{verified_id}", include_in_schema=False)
async def verified_form(request: Request, verified_id: int, user: Admin,
                        action: Annotated[str, Form()] = "", text: Annotated[str, Form()] = "",
                        csrf: Annotated[str, Form()] = "") -> Response:
    require_csrf(request, csrf)
    try:
        if action not in ("edit", "retract"):
            raise InputError(f"unknown action {action!r} — use edit or retract")
        await verified_action(request, user, verified_id, action, text)
        request.session["notice"] = DONE[action].format(id=verified_id)
    except InputError as exc:
        request.session["notice"] = f"Not done: {exc}"
    return RedirectResponse("/verified", status_code=303)


def _with_offset(request: Request, offset: int) -> str:
    params = [(k, v) for k, v in request.query_params.multi_items() if k != "offset"]
    return urlencode([*params, ("offset", str(offset))])


def _back(path: str, default: str) -> str:
    """Only the page the form was on is a place to go back to (no open redirect)."""
    return path if path.startswith(default) and "//" not in path else default
