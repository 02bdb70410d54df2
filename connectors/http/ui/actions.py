"""The UI's buttons: resume a suspended run with its form, cancel a run, run it again, and
change a queue's limit.

Each is a POST form from a page of the UI (checked by ``auth.same_origin``); each answers
with a redirect (303) back to a page, which says what the fold made of it. A form
that does not fit is a 4xx page naming what was wrong, and nothing is appended.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import RedirectResponse

from engine import CommandResult

from ..deps import EngineDep
from ..middleware import UI_PREFIX
from ..models import MAX_ID_CHARS, HistoryEntry
from .auth import SameOrigin
from .forms import FormError, answer, form_for
from .render import UiError, UiRoute, run_url
from .timeline import invocation_of

MAX_REASON_CHARS = 4096
MAX_QUEUE_LIMIT = 1_000_000  # as the API's PUT /v1/queues/{queue}/limit

router = APIRouter(route_class=UiRoute, include_in_schema=False, dependencies=[SameOrigin])


def _back(execution_id: str, result: CommandResult) -> Response:
    note = f"{result.outcome.value}: {result.message}"
    return RedirectResponse(run_url(execution_id) + "?" + urlencode({"note": note}), status_code=303)


@router.post("/runs/{execution_id:path}/resume")
async def resume(request: Request, engine: EngineDep, execution_id: str) -> Response:
    submitted = await request.form()
    fields = {key: submitted.getlist(key) for key in submitted}
    name = (fields.get("wait") or [""])[-1]
    if not name:
        raise UiError(422, "wait: name the suspension to resume")
    execution = await engine.client.get_execution(execution_id)
    waits = {w["key"]: w for w in execution.waiting_for if w["kind"] == "suspend"}
    if name not in waits:
        open_ = ", ".join(waits) or "none"
        raise UiError(409, f"execution {execution_id} has no open suspension {name!r} (open: {open_})")
    try:
        data = answer(form_for(name, waits[name].get("data")), fields)
    except FormError as exc:
        raise UiError(422, str(exc)) from None
    return _back(execution_id, await engine.client.resume(execution_id, name, data))


@router.post("/runs/{execution_id:path}/cancel")
async def cancel(
    engine: EngineDep, execution_id: str, reason: Annotated[str, Form(max_length=MAX_REASON_CHARS)] = ""
) -> Response:
    return _back(execution_id, await engine.client.cancel(execution_id, reason.strip() or "cancelled in the web UI"))


@router.post("/runs/{execution_id:path}/rerun")
async def rerun(engine: EngineDep, execution_id: str) -> Response:
    """A new run of the same workflow with the same input (and user and session)."""
    execution = await engine.client.get_execution(execution_id)
    invocation = invocation_of(
        [HistoryEntry.of(r) for r in await engine.client.history(execution_id, include_claims=False)]
    )
    if invocation is None:
        raise UiError(409, f"execution {execution_id}: its invocation is not in its history, so its input is unknown")
    handle = await engine.client.invoke(
        engine.target(execution.workflow), invocation.get("input"),
        user_id=execution.user_id, session_id=execution.session_id,
    )  # fmt: skip
    note = f"started: a new run of {execution.workflow} with the input of {execution_id}"
    return RedirectResponse(run_url(handle.execution_id) + "?" + urlencode({"note": note}), status_code=303)


@router.post("/queues/{queue}/limit")
async def set_queue_limit(engine: EngineDep, queue: str, limit: Annotated[str, Form()] = "") -> Response:
    """The queue's limit for every key, at once (the workers apply it as they fold it)."""
    if not 1 <= len(queue) <= MAX_ID_CHARS:
        raise UiError(422, f"queue: 1 to {MAX_ID_CHARS} characters")
    if not limit.strip().isdigit() or not 1 <= int(limit) <= MAX_QUEUE_LIMIT:
        raise UiError(422, f"limit: {limit!r} is not a number from 1 to {MAX_QUEUE_LIMIT}")
    await engine.client.set_queue_limit(queue, int(limit))
    note = f"queue {queue}: the limit is now {int(limit)} (the workers apply it in a moment)"
    return RedirectResponse(f"{UI_PREFIX}/queues?" + urlencode({"note": note}), status_code=303)
