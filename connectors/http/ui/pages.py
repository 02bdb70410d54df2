"""The UI's pages: runs (filtered, paged), one run (live), the runs that wait, the queues.

Each reads through the app's ``engine.Client`` (``app.state.engine``), as the API does.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import get_args

from fastapi import APIRouter, Request, Response

from engine import Execution

from ..deps import EngineDep
from ..models import HistoryEntry, RunStatus
from ..routes import live
from .forms import form_for
from .render import UiError, UiRoute, page, page_url
from .timeline import agent_view, build_timeline, state_snapshots

DEFAULT_PAGE = 50
MAX_PAGE = 500
STATUSES = get_args(RunStatus)

router = APIRouter(route_class=UiRoute, include_in_schema=False)


def _time(name: str, value: str | None) -> datetime | None:
    """A filter's time: ISO 8601 (a browser's ``datetime-local``); naive is UTC."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise UiError(422, f"{name}: {value!r} is not a time (ISO 8601, e.g. 2026-11-27T09:30)") from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _limit(value: str | None) -> int:
    if not value:
        return DEFAULT_PAGE
    if not value.isdigit() or not 1 <= int(value) <= MAX_PAGE:
        raise UiError(422, f"limit: {value!r} is not a number from 1 to {MAX_PAGE}")
    return int(value)


@router.get("")
@router.get("/runs")
async def runs(
    request: Request,
    engine: EngineDep,
    workflow: str | None = None,
    status: str | None = None,
    since: str | None = None,
    until: str | None = None,
    session: str | None = None,
    after: str | None = None,
    limit: str | None = None,
) -> Response:
    if status and status not in STATUSES:
        raise UiError(422, f"status: {status!r} is not one of {', '.join(STATUSES)}")
    filters = {
        "workflow": workflow or None, "status": status or None, "since": since or None,
        "until": until or None, "session": session or None,
    }  # fmt: skip
    count = _limit(limit)
    try:
        found = await engine.client.list_executions(
            filters["status"], workflow=filters["workflow"], since=_time("since", since), until=_time("until", until),
            session_id=filters["session"], after=after or None, limit=count + 1, newest_first=True,
        )  # fmt: skip
    except ValueError as exc:  # the page token names no run of this listing
        if not after:
            raise
        raise UiError(422, f"after: {exc}") from None
    more = len(found) > count
    found = found[:count]
    next_url = page_url("/runs", **filters, after=found[-1].execution_id, limit=limit) if more else None
    return page(
        request, "runs.html", runs=found, filters=filters, statuses=STATUSES, next_url=next_url,
        first_url=page_url("/runs", **filters, limit=limit) if after else None, now=datetime.now(UTC),
    )  # fmt: skip


async def _run_view(engine, execution_id: str) -> dict:
    """What the run page shows: the run, its timeline, its forms, its records."""
    execution = await engine.client.get_execution(execution_id)
    records = await engine.client.history(execution_id, include_claims=False)
    entries = [HistoryEntry.of(r) for r in records]
    forms = [form_for(w["key"], w.get("data")) for w in execution.waiting_for if w["kind"] == "suspend"]
    return {
        "run": execution,
        "entries": entries,
        "timeline": build_timeline(entries, int(time.time() * 1000)),
        "snapshots": state_snapshots(entries),
        "agent": agent_view(entries),
        "forms": forms,
        "version": _version(execution, entries),
        "last_event_id": entries[-1].event_id if entries else "",
        "now": datetime.now(UTC),
    }


def _version(execution: Execution, entries: list) -> str:
    """Changes whenever the run page would: a new record, or a new status."""
    return f"{len(entries)}.{execution.status}"


@router.get("/runs/{execution_id:path}/events")
async def run_events(
    engine: EngineDep,
    execution_id: str,
    last_event_id: live.LastEventId = None,
    last_event_id_query: live.LastEventIdQuery = None,
) -> Response:
    """The run's records as they are folded: the API's SSE stream, for the page's script,
    which asks for the changed part (``/live``) when a record comes."""
    return await live.run_events(engine, execution_id, last_event_id, last_event_id_query)


@router.get("/runs/{execution_id:path}/live")
async def run_live(request: Request, engine: EngineDep, execution_id: str, version: str = "") -> Response:
    """The run page's changing part, for its script to swap in; 204 while nothing changed."""
    view = await _run_view(engine, execution_id)
    if version == view["version"]:
        return Response(status_code=204)
    return page(request, "_run_live.html", **view)


@router.get("/runs/{execution_id:path}")
async def run(request: Request, engine: EngineDep, execution_id: str, note: str | None = None) -> Response:
    return page(request, "run.html", note=note, **await _run_view(engine, execution_id))


@router.get("/waiting")
async def waiting(request: Request, engine: EngineDep) -> Response:
    found = await engine.client.list_executions("waiting", limit=MAX_PAGE + 1)
    more = len(found) > MAX_PAGE
    return page(request, "waiting.html", runs=found[:MAX_PAGE], more=more, now=datetime.now(UTC))


@router.get("/queues")
async def queues(request: Request, engine: EngineDep, note: str | None = None) -> Response:
    return page(request, "queues.html", queues=await engine.client.list_queues(), note=note)
