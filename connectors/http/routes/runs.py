"""Runs: start one (and wait for it), read it, list them, its history and result, and the
commands that judge themselves (cancel, terminate, resume).

Execution ids may hold ``/`` (a scheduled run's id is ``<workflow>/<key>@tick-...``), so
``{execution_id:path}`` takes the rest of the path, and the routes with a suffix come
before the bare ``GET /runs/{execution_id}``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, Body, Header, Path, Query
from fastapi.responses import JSONResponse

from engine import CommandResult, Execution, ExecutionHandle

from .. import errors
from ..deps import EngineDep
from ..errors import ApiError, ErrorCode
from ..models import (
    ID_PATTERN,
    MAX_ID_CHARS,
    CommandAnswer,
    History,
    HistoryEntry,
    ResumeRequest,
    RunAccepted,
    RunList,
    RunRequest,
    RunStatus,
    StopRequest,
)

DEFAULT_WAIT_S = 30.0
MAX_WAIT_S = 300.0  # a request waits at most this long; GET .../result waits again
DEFAULT_PAGE = 100
MAX_PAGE = 1000

router = APIRouter(tags=["runs"])

RunId = Annotated[str, Path(min_length=1, description="the execution id")]
WaitTimeout = Annotated[
    float, Query(ge=0, le=MAX_WAIT_S, description="seconds to wait for the run's end; then 504 TIMEOUT")
]


def run_url(execution_id: str, suffix: str = "") -> str:
    return f"/v1/runs/{quote(execution_id, safe='')}{suffix}"


def _accepted(handle: ExecutionHandle, workflow: str) -> RunAccepted:
    return RunAccepted(
        execution_id=handle.execution_id,
        workflow=workflow,
        status_url=run_url(handle.execution_id),
        result_url=run_url(handle.execution_id, "/result"),
    )


async def wait_for_end(handle: ExecutionHandle, timeout_s: float) -> Execution:
    """The run once it has ended, whatever its end: a failed or cancelled run is an answer
    (its ``status`` and ``error``), not an HTTP error. 504 TIMEOUT if it goes on longer."""
    try:
        return await handle.wait(timeout=timeout_s)
    except TimeoutError:
        raise ApiError(
            504,
            ErrorCode.TIMEOUT,
            f"execution {handle.execution_id} has not ended after {timeout_s:g} s; it goes on "
            f"(GET {run_url(handle.execution_id, '/result')} waits again)",
            execution_id=handle.execution_id,
            headers={"Location": run_url(handle.execution_id)},
        ) from None


@router.post(
    "/workflows/{workflow}/runs",
    status_code=202,
    response_model=None,
    summary="Start a run (and with ?wait=true, wait for its end)",
    responses={
        200: {"model": Execution, "description": "?wait=true: the ended run (completed, failed or cancelled)"},
        202: {"model": RunAccepted, "description": "started (or found by its execution id); not waited for"},
        **errors.responses(400, 404, 409, 413, 422, 503, 504),
    },
)
async def start_run(
    engine: EngineDep,
    workflow: Annotated[str, Path(min_length=1, max_length=MAX_ID_CHARS)],
    body: Annotated[RunRequest | None, Body()] = None,
    wait: Annotated[bool, Query(description="wait for the run's end and answer with it")] = False,
    timeout: WaitTimeout = DEFAULT_WAIT_S,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            min_length=1,
            max_length=MAX_ID_CHARS,
            pattern=ID_PATTERN,
            description="the run's execution id: the same key and input give the same run",
        ),
    ] = None,
    traceparent: Annotated[
        str | None,
        Header(max_length=128, description="W3C trace context: the run's trace continues the caller's"),
    ] = None,
) -> JSONResponse:
    body = body or RunRequest()
    execution_id = body.execution_id
    if idempotency_key is not None:
        if execution_id is not None and execution_id != idempotency_key:
            raise ApiError(
                400,
                ErrorCode.INVALID_INPUT,
                f"the Idempotency-Key {idempotency_key!r} and the execution_id {execution_id!r} differ: "
                "they name the same thing, give one",
            )
        execution_id = idempotency_key
    handle = await engine.client.invoke(
        engine.target(workflow),
        body.input,
        execution_id=execution_id,
        user_id=body.user_id,
        session_id=body.session_id,
        run_timeout_seconds=body.run_timeout_seconds,
        traceparent=traceparent,  # recorded with the invocation (docs/observability.md)
    )
    location = {"Location": run_url(handle.execution_id)}
    if not wait:
        return JSONResponse(_accepted(handle, workflow).model_dump(mode="json"), status_code=202, headers=location)
    execution = await wait_for_end(handle, timeout)
    return JSONResponse(execution.model_dump(mode="json"), status_code=200, headers=location)


@router.get(
    "/runs",
    response_model=RunList,
    summary="List runs, oldest first (or ?order=newest)",
    responses=errors.responses(400, 422),
)
async def list_runs(
    engine: EngineDep,
    status: RunStatus | None = None,
    workflow: str | None = None,
    since: Annotated[datetime | None, Query(description="created at or after (ISO 8601; naive is UTC)")] = None,
    until: Annotated[datetime | None, Query(description="created before")] = None,
    session_id: str | None = None,
    user_id: str | None = None,
    parent: Annotated[str | None, Query(description="runs started by this run")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = DEFAULT_PAGE,
    page_token: Annotated[str | None, Query(description="next_page_token of the page before")] = None,
    order: Annotated[
        Literal["oldest", "newest"], Query(description="oldest first (by creation, then id) or newest first")
    ] = "oldest",
) -> RunList:
    try:
        runs = await engine.client.list_executions(
            status,
            workflow=workflow,
            since=since,
            until=until,
            session_id=session_id,
            user_id=user_id,
            parent_id=parent,
            after=page_token,
            limit=limit + 1,  # one more than the page: is there a next one?
            newest_first=order == "newest",
        )
    except ValueError as exc:  # the page token names no run of this listing
        if page_token is None:
            raise
        raise ApiError(400, ErrorCode.INVALID_INPUT, str(exc)) from None
    more = len(runs) > limit
    runs = runs[:limit]
    return RunList(runs=runs, next_page_token=runs[-1].execution_id if more else None)


@router.get(
    "/runs/{execution_id:path}/history",
    response_model=History,
    summary="Every journal record of a run, payloads decoded",
    responses=errors.responses(404),
)
async def run_history(engine: EngineDep, execution_id: RunId) -> History:
    records = await engine.client.history(execution_id, include_claims=False)
    return History(execution_id=execution_id, records=[HistoryEntry.of(r) for r in records])


@router.get(
    "/runs/{execution_id:path}/result",
    response_model=Execution,
    summary="Wait for a run's end (completed, failed or cancelled)",
    responses=errors.responses(404, 504),
)
async def run_result(engine: EngineDep, execution_id: RunId, timeout: WaitTimeout = DEFAULT_WAIT_S) -> Execution:
    return await wait_for_end(await engine.client.handle(execution_id), timeout)


def _answer(result: CommandResult) -> CommandAnswer:
    return CommandAnswer(
        execution_id=result.execution.execution_id,
        outcome=result.outcome.value,
        message=result.message,
        execution=result.execution,
    )


@router.post(
    "/runs/{execution_id:path}/cancel",
    response_model=CommandAnswer,
    summary="Cancel a run at its next step or wait",
    responses=errors.responses(404, 422),
)
async def cancel_run(
    engine: EngineDep, execution_id: RunId, body: Annotated[StopRequest | None, Body()] = None
) -> CommandAnswer:
    reason = body.reason if body is not None and body.reason else "cancelled over HTTP"
    return _answer(await engine.client.cancel(execution_id, reason))


@router.post(
    "/runs/{execution_id:path}/terminate",
    response_model=CommandAnswer,
    summary="Stop a run now, without waiting for its step in flight",
    responses=errors.responses(404, 422),
)
async def terminate_run(
    engine: EngineDep, execution_id: RunId, body: Annotated[StopRequest | None, Body()] = None
) -> CommandAnswer:
    reason = body.reason if body is not None and body.reason else "terminated over HTTP"
    return _answer(await engine.client.terminate(execution_id, reason))


@router.post(
    "/runs/{execution_id:path}/resume/{name}",
    response_model=CommandAnswer,
    summary="Resume a run's suspension (ctx.step.suspend(name)) with data",
    responses=errors.responses(404, 422),
)
async def resume_run(
    engine: EngineDep,
    execution_id: RunId,
    name: Annotated[str, Path(min_length=1, max_length=MAX_ID_CHARS)],
    body: Annotated[ResumeRequest | None, Body()] = None,
) -> CommandAnswer:
    return _answer(await engine.client.resume(execution_id, name, None if body is None else body.data))


@router.get(
    "/runs/{execution_id:path}",
    response_model=Execution,
    summary="A run's status, result, error and open waits",
    responses=errors.responses(404),
)
async def get_run(engine: EngineDep, execution_id: RunId) -> Execution:
    return await engine.client.get_execution(execution_id)
