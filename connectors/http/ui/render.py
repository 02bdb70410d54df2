"""Rendering the UI's pages: the Jinja2 templates, their filters, and errors as pages.

A UI route's errors are pages, not the API's JSON: ``UiRoute`` renders ``UiError``, the
engine's errors (with the API's status table, ``errors.ENGINE_ERRORS``) and a request
that does not validate as ``error.html`` with their status.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates

from engine.errors import LogloomError

from .. import errors
from ..middleware import UI_PREFIX

HERE = Path(__file__).parent
MAX_SHOWN_CHARS = 4000  # a payload longer than this is cut on the page (the API has it whole)

templates = Jinja2Templates(directory=HERE / "templates")


class UiError(Exception):
    """An answer a UI route gives as an error page: ``status`` and what was wrong."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def run_url(execution_id: str, suffix: str = "") -> str:
    return f"{UI_PREFIX}/runs/{quote(execution_id, safe='')}{suffix}"


def when(value: datetime | None) -> str:
    if value is None:
        return ""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def duration(milliseconds: int | float | None) -> str:
    if milliseconds is None:
        return ""
    if milliseconds < 1000:
        return f"{milliseconds:.0f} ms"
    seconds = milliseconds / 1000
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, seconds = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if hours < 48 else f"{hours // 24} d {hours % 24} h"


def pretty(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, indent=2, default=str, ensure_ascii=False)
    return text if len(text) <= MAX_SHOWN_CHARS else text[:MAX_SHOWN_CHARS] + f"\n… ({len(text)} characters)"


def run_span_ms(execution, now: datetime | None = None) -> int | None:
    """How long the run took (from its creation to its end), or has run so far."""
    if execution.created_at is None:
        return None
    end = execution.completed_at or (now or datetime.now(UTC))
    return int((end - execution.created_at).total_seconds() * 1000)


def page_url(path: str, **params: Any) -> str:
    kept = {k: v for k, v in params.items() if v not in (None, "")}
    return f"{UI_PREFIX}{path}" + (f"?{urlencode(kept)}" if kept else "")


templates.env.filters.update(when=when, duration=duration, pretty=pretty, run_url=run_url)
templates.env.globals.update(ui=UI_PREFIX, run_span_ms=run_span_ms, page_url=page_url)


def page(request: Request, name: str, status_code: int = 200, **context: Any) -> Response:
    auth = request.app.state.ui_digests is not None
    return templates.TemplateResponse(request, name, {"auth": auth, **context}, status_code=status_code)


def error_page(request: Request, status: int, message: str) -> Response:
    return page(request, "error.html", status, status=status, message=message)


class UiRoute(APIRoute):
    """A route whose errors are pages (``error.html``) with the status the API would give."""

    def get_route_handler(self) -> Callable:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except UiError as exc:
                return error_page(request, exc.status, exc.message)
            except RequestValidationError as exc:
                where = "; ".join(f"{'.'.join(map(str, e.get('loc', ())[1:]))}: {e.get('msg')}" for e in exc.errors())
                return error_page(request, 422, f"invalid request: {where}")
            except LogloomError as exc:
                mapped = errors.for_engine_error(exc)
                if mapped is None:
                    raise
                return error_page(request, mapped[0], getattr(exc, "message", None) or str(exc))

        return handle
