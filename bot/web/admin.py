"""The console's Knowledge and Model pages and their API (admins only): sources, quarantine
review and release, refresh with live progress and its history; adapters with their gate
reports, train, promote and rollback. Every action is recorded in the admin audit log."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException

from bot.web.api import csrf_header
from bot.web.browse import Admin
from bot.web.ops import ConsoleOps, Jobs, Progress
from bot.web.security import csrf_token

router = APIRouter()
Csrf = Depends(csrf_header)


class Release(BaseModel):
    ids: list[str] = Field(min_length=1, max_length=100)


class Version(BaseModel):
    version: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")


def ops_of(request: Request) -> tuple[ConsoleOps, Jobs]:
    deps = request.app.state.deps
    if deps.ops is None:
        raise HTTPException(404, "knowledge and model administration is not available here")
    return deps.ops, request.app.state.jobs


async def audited(request: Request, user: str, action: str, work: Any, *args: Any) -> Any:
    """Run ``work`` in a thread and record the admin action (allowed) in the audit log."""
    await asyncio.to_thread(request.app.state.deps.store.record_admin_action, "web", user,
                            action, True)
    return await asyncio.to_thread(work, *args)


@router.get("/api/knowledge")
async def knowledge(request: Request, _: Admin) -> dict[str, Any]:
    """Sources, documents, chunks, quarantined passages and the recent refresh runs."""
    ops, jobs = ops_of(request)
    found: dict[str, Any] = await asyncio.to_thread(ops.knowledge)
    return {**found, "job": jobs.current.as_dict() if jobs.current else None}


@router.post("/api/knowledge/refresh", dependencies=[Csrf], status_code=202)
async def refresh(request: Request, user: Admin) -> dict[str, Any]:
    """Start a refresh; follow it at ``/api/jobs/current``. 409 while a job runs."""
    ops = ops_of(request)[0]
    return await start_job(request, user, "refresh",
                           lambda progress: ops.refresh(f"web:{user}", progress))


async def start_job(request: Request, user: str, kind: str,
                    work: Callable[[Progress], str]) -> dict[str, Any]:
    """Audit the action and start ``work`` as the one background job (409 while one runs)."""
    await asyncio.to_thread(request.app.state.deps.store.record_admin_action, "web", user,
                            kind, True)
    job = ops_of(request)[1].start(kind, user, work)
    if job is None:
        raise HTTPException(409, "a refresh or training run is already running — wait for it")
    return job.as_dict()


@router.post("/api/knowledge/release", dependencies=[Csrf])
async def release(body: Release, request: Request, user: Admin) -> dict[str, str]:
    """Let quarantined passages back into the index (they are indexed at once)."""
    ops = ops_of(request)[0]
    return {"text": await audited(request, user, "quarantine release", ops.release, body.ids,
                                  f"web:{user}")}


@router.get("/api/jobs/current")
async def current_job(request: Request, user: Admin) -> dict[str, Any]:
    """The latest refresh or training run: status, stage, done/total, message."""
    jobs = ops_of(request)[1]
    return {"job": jobs.current.as_dict() if jobs.current else None}


@router.get("/api/adapters")
async def adapters(request: Request, user: Admin) -> dict[str, Any]:
    """Every adapter with its metrics, gate report and number of answers given."""
    ops = ops_of(request)[0]
    return {"adapters": await asyncio.to_thread(ops.adapters)}


@router.post("/api/adapters/train", dependencies=[Csrf], status_code=202)
async def train(request: Request, user: Admin) -> dict[str, Any]:
    """Train an adapter from the feedback and gate it; follow it at ``/api/jobs/current``."""
    ops = ops_of(request)[0]
    return await start_job(request, user, "train",
                           lambda progress: ops.train(f"web:{user}", progress))


@router.post("/api/adapters/promote", dependencies=[Csrf])
async def promote(body: Version, request: Request, user: Admin) -> dict[str, str]:
    ops = ops_of(request)[0]
    return {"text": await audited(request, user, f"promote {body.version}", ops.promote,
                                  body.version)}


@router.post("/api/adapters/rollback", dependencies=[Csrf])
async def rollback(request: Request, user: Admin) -> dict[str, str]:
    ops = ops_of(request)[0]
    return {"text": await audited(request, user, "rollback", ops.rollback)}


@router.get("/knowledge", include_in_schema=False, response_class=HTMLResponse)
async def knowledge_page(request: Request, user: Admin) -> Response:
    found = await knowledge(request, user)
    return request.app.state.templates.TemplateResponse(request, "knowledge.html", {
        "csrf": csrf_token(request), "user": user, **found})


@router.get("/model", include_in_schema=False, response_class=HTMLResponse)
async def model_page(request: Request, user: Admin) -> Response:
    found = await adapters(request, user)
    return request.app.state.templates.TemplateResponse(request, "model.html", {
        "csrf": csrf_token(request), "user": user, **found})
