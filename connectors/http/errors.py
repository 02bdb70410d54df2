"""Every error the HTTP API answers with: one JSON shape, stable codes, one table.

    {"error": {"code": "NOT_FOUND", "message": "...", "execution_id": "order-7"}}

The codes mean what the CLI's exit codes mean (``docs/cli.md``) and what the Python
errors say (``engine.errors``); ``docs/http.md`` has the table. ``ENGINE_ERRORS`` maps the
engine's exceptions to (status, code), first match wins; ``install`` makes FastAPI's own
answers (a body that does not validate, an unknown route, a wrong method) and anything
unexpected come out in the same shape.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException

from engine.errors import (
    ExecutionIdConflictError,
    InputValidationError,
    LogloomError,
    LogUnavailableError,
    NotFoundError,
    SerializationError,
    StoreAheadOfLogError,
    UnknownWorkflowError,
)


class ErrorCode(StrEnum):
    NOT_FOUND = "NOT_FOUND"  # no such run, schedule or workflow (CLI exit 3)
    CONFLICT = "CONFLICT"  # the execution id is taken by another workflow or input (exit 8)
    INVALID_INPUT = "INVALID_INPUT"  # a body, a parameter or a payload that does not fit (exit 2)
    TIMEOUT = "TIMEOUT"  # waited longer than ?timeout= (exit 4); the run goes on
    UNAVAILABLE = "UNAVAILABLE"  # the log cannot be reached (exit 9)
    UNAUTHORIZED = "UNAUTHORIZED"  # no bearer token, or not an accepted one
    BAD_SIGNATURE = "BAD_SIGNATURE"  # a webhook delivery without a valid signature (docs/webhooks.md)
    STALE_TIMESTAMP = "STALE_TIMESTAMP"  # a webhook delivery signed too long ago: a replay
    PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"  # a body over the server's limit
    UNKNOWN_ROUTE = "UNKNOWN_ROUTE"  # no endpoint at that path
    METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"  # an endpoint, but not with that method
    INTERNAL = "INTERNAL"  # a bug: never expected, logged with its traceback


# The engine's exceptions, most specific first: (exception type, HTTP status, code).
ENGINE_ERRORS: tuple[tuple[type[BaseException], int, ErrorCode], ...] = (
    (ExecutionIdConflictError, 409, ErrorCode.CONFLICT),
    (NotFoundError, 404, ErrorCode.NOT_FOUND),  # executions, schedules, steps
    (UnknownWorkflowError, 404, ErrorCode.NOT_FOUND),  # a workflow the server's registry lacks
    (InputValidationError, 422, ErrorCode.INVALID_INPUT),  # a payload the workflow rejects; a bad schedule
    (SerializationError, 422, ErrorCode.INVALID_INPUT),
    (LogUnavailableError, 503, ErrorCode.UNAVAILABLE),
    (StoreAheadOfLogError, 500, ErrorCode.INTERNAL),  # the server's store was folded from another log
    (LogloomError, 400, ErrorCode.INVALID_INPUT),  # what the CLI calls bad usage (exit 2)
)

# Starlette's own HTTPExceptions: the router's 404 and 405, the body limit's 413.
_HTTP_CODES = {
    400: ErrorCode.INVALID_INPUT,
    401: ErrorCode.UNAUTHORIZED,
    404: ErrorCode.UNKNOWN_ROUTE,
    405: ErrorCode.METHOD_NOT_ALLOWED,
    413: ErrorCode.PAYLOAD_TOO_LARGE,
    422: ErrorCode.INVALID_INPUT,
    503: ErrorCode.UNAVAILABLE,
}


class ErrorDetail(BaseModel):
    code: ErrorCode
    message: str
    execution_id: str | None = None
    step: str | None = None
    details: list[dict] | None = None  # request validation: where (loc) and what (msg, type)


class ErrorBody(BaseModel):
    """The one shape of every error answer."""

    error: ErrorDetail


class ApiError(Exception):
    """An error a route answers with directly (not an engine exception)."""

    def __init__(
        self,
        status: int,
        code: ErrorCode,
        message: str,
        *,
        execution_id: str | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.execution_id = execution_id
        self.headers = headers


class BodyTooLarge(HTTPException):
    """Raised while a body is read past the limit (``middleware.py``). An ``HTTPException``, so
    FastAPI passes it on as it is instead of calling it a body it cannot parse."""

    def __init__(self, limit: int):
        super().__init__(413, f"the request body is over the limit of {limit} bytes")


def error_body(
    code: ErrorCode,
    message: str,
    *,
    execution_id: str | None = None,
    step: str | None = None,
    details: list[dict] | None = None,
) -> dict:
    detail = ErrorDetail(code=code, message=message, execution_id=execution_id, step=step, details=details)
    return {"error": detail.model_dump(mode="json", exclude_none=True)}


def error_response(status: int, code: ErrorCode, message: str, *, headers=None, **fields) -> JSONResponse:
    return JSONResponse(error_body(code, message, **fields), status_code=status, headers=headers)


def for_engine_error(exc: BaseException) -> tuple[int, ErrorCode] | None:
    """The (status, code) of an engine exception, from ``ENGINE_ERRORS``; None if none fits."""
    return next(((status, code) for kind, status, code in ENGINE_ERRORS if isinstance(exc, kind)), None)


def _execution_id(request: Request, exc: BaseException | None = None) -> str | None:
    """The run an answer is about: the exception's, else the one the path names."""
    return getattr(exc, "execution_id", None) or request.path_params.get("execution_id") or None


async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
    return error_response(
        exc.status, exc.code, exc.message, headers=exc.headers, execution_id=exc.execution_id or _execution_id(request)
    )


async def _engine_error(request: Request, exc: Exception) -> JSONResponse:
    mapped = for_engine_error(exc)
    if mapped is None:
        return await _unexpected(request, exc)
    status, code = mapped
    message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return error_response(
        status, code, message, execution_id=_execution_id(request, exc), step=getattr(exc, "step", None) or None
    )


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = exc.errors()
    details = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")} for e in errors]
    if any(e.get("type") == "json_invalid" for e in errors):
        return error_response(
            400, ErrorCode.INVALID_INPUT, "the request body is not valid JSON", details=details,
            execution_id=_execution_id(request),
        )  # fmt: skip
    where = "; ".join(f"{'.'.join(map(str, d['loc']))}: {d['msg']}" for d in details)
    return error_response(
        422, ErrorCode.INVALID_INPUT, f"invalid request: {where}", details=details, execution_id=_execution_id(request)
    )


async def _http_error(request: Request, exc: HTTPException) -> JSONResponse:
    code = _HTTP_CODES.get(exc.status_code, ErrorCode.INTERNAL if exc.status_code >= 500 else ErrorCode.INVALID_INPUT)
    message = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    if code is ErrorCode.UNKNOWN_ROUTE:
        message = f"no endpoint at {request.url.path}"
    elif code is ErrorCode.METHOD_NOT_ALLOWED:
        message = f"{request.method} is not allowed at {request.url.path}"
    return error_response(exc.status_code, code, message, headers=getattr(exc, "headers", None))


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    """A bug. Starlette raises it on after this answer, so the server logs its traceback."""
    return error_response(500, ErrorCode.INTERNAL, "internal error (logged by the server)")


def install(app: FastAPI) -> None:
    """Answer every error in the one shape."""
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(LogloomError, _engine_error)
    app.add_exception_handler(Exception, _unexpected)


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` for error statuses: each in the one shape."""
    return {status: {"model": ErrorBody, "description": _DESCRIPTIONS[status]} for status in statuses}


_DESCRIPTIONS = {
    400: "INVALID_INPUT: a body that is not JSON, or a request the engine refuses",
    401: "UNAUTHORIZED: no bearer token, or not an accepted one",
    404: "NOT_FOUND: no such run, schedule or workflow",
    409: "CONFLICT: the execution id is taken by another workflow or another input",
    413: "PAYLOAD_TOO_LARGE: the body is over the server's limit",
    422: "INVALID_INPUT: a body or parameter that does not validate",
    500: "INTERNAL: never expected",
    503: "UNAVAILABLE: the log cannot be reached",
    504: "TIMEOUT: the run has not ended within ?timeout=; it goes on",
}
