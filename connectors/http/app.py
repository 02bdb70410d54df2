"""``create_app``: the HTTP API over one ``engine.Client`` (``docs/http.md``).

A request goes through, outermost first:

1. ``BearerAuth`` (unless ``tokens`` is None): 401 without an accepted token (webhook
   endpoints are open: their signatures are checked by ``connectors.webhooks``);
2. ``BodySizeLimit``: 413 for a body over the limit, before it is read whole;
3. FastAPI: the route, whose errors ``errors.install`` answers in the one shape.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from importlib import metadata
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from prometheus_client import CollectorRegistry

from engine import Client, LogloomError

from . import errors, ui
from .deps import Engine
from .middleware import BearerAuth, BodySizeLimit, is_public
from .models import Health
from .routes import live, metrics, resources, runs
from .tokens import check_digest

DEFAULT_MAX_BODY_BYTES = 1024 * 1024
MAX_BODY_ENV = "LOGLOOM_HTTP_MAX_BODY_BYTES"

DESCRIPTION = """\
Start, watch and steer Logloom workflow runs over HTTP: a thin shell over `engine.Client`.

Every error answers `{"error": {"code", "message", "execution_id"?, "step"?}}` with a stable
code; a run that failed is not an error (its `status` and `error` say so). See docs/http.md.
"""


def max_body_bytes_from_env(environ: Mapping[str, str] | None = None) -> int:
    """``LOGLOOM_HTTP_MAX_BODY_BYTES``, else 1 MiB."""
    value = (os.environ if environ is None else environ).get(MAX_BODY_ENV, "").strip()
    if not value:
        return DEFAULT_MAX_BODY_BYTES
    if not value.isdigit() or int(value) < 1:
        raise LogloomError(f"{MAX_BODY_ENV}={value!r}: expected a number of bytes >= 1")
    return int(value)


def _version() -> str:
    try:
        return metadata.version("logloom")
    except metadata.PackageNotFoundError:
        return "0"


def create_app(
    client: Client,
    *,
    tokens: list[str] | None,
    registry: Any = None,
    max_body_bytes: int | None = None,
    webhook_secrets: dict[tuple[str, str], list[str]] | None = None,
) -> FastAPI:
    """The API over ``client``.

    ``tokens``: the SHA-256 digests (``tokens.hash_token``) of the accepted bearer tokens;
    None serves without auth, which only the caller may decide. ``registry``: the
    workflows a run may be started of (``engine.workflow.Registry``), whose inputs are
    checked before anything is appended; None starts any name, and the workers judge it.
    ``max_body_bytes``: else ``LOGLOOM_HTTP_MAX_BODY_BYTES``, else 1 MiB.
    ``webhook_secrets``: secrets of webhook endpoints beside those the registry's workflows
    declare (``connectors.webhooks.load_webhook_secrets``; docs/webhooks.md).
    ``/metrics`` serves the app's Prometheus counters, behind the tokens like the API.
    The app does not own ``client``: the caller closes it.
    """
    digests = None if tokens is None else [check_digest(t, "tokens") for t in tokens]
    limit = max_body_bytes if max_body_bytes is not None else max_body_bytes_from_env()
    app = FastAPI(
        title="Logloom",
        version=_version(),
        description=DESCRIPTION,
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
    )
    from connectors.webhooks import Webhooks, endpoints, webhook_routes

    app.state.engine = Engine(client, registry)
    app.state.metrics = CollectorRegistry()
    app.state.webhooks = Webhooks(endpoints(registry, webhook_secrets), app.state.metrics)
    errors.install(app)
    guarded = errors.responses(401) if digests is not None else {}
    # live first: its /runs/{id}/events and /stream come before runs' bare /runs/{id}
    for module in (live, runs, resources):
        app.include_router(module.router, prefix="/v1", responses=guarded)
    app.include_router(webhook_routes.router, prefix="/v1")
    app.include_router(metrics.router, responses=guarded)

    @app.get("/healthz", response_model=Health, tags=["health"], summary="The server answers (no auth)")
    async def healthz() -> Health:
        return Health()

    ui.install(app, digests)  # the web UI at /ui (docs/ui.md)
    app.add_middleware(BodySizeLimit, max_bytes=limit)
    if digests is not None:
        app.add_middleware(BearerAuth, digests=digests)  # added last: outermost
    app.openapi = lambda: _openapi(app, auth=digests is not None)
    return app


def _openapi(app: FastAPI, *, auth: bool) -> dict:
    """FastAPI's document, with the bearer scheme on every guarded operation."""
    if app.openapi_schema is None:
        schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        if auth:
            schema.setdefault("components", {})["securitySchemes"] = {
                "bearer": {"type": "http", "scheme": "bearer", "description": "a token whose SHA-256 the server holds"}
            }
            for path, operations in schema["paths"].items():
                if not is_public(path):
                    for operation in operations.values():
                        operation["security"] = [{"bearer": []}]
        app.openapi_schema = schema
    return app.openapi_schema
