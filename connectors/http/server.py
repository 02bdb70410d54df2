"""Serving the API on uvicorn, in the caller's event loop (``logloom serve``).

    await serve(client, "0.0.0.0", 8080, tokens=load_tokens(path), registry=registry, stop=stop)

The caller owns the signals: ``serve`` returns once ``stop`` is set (``logloom serve``
sets it on SIGTERM or Ctrl-C, then drains its worker). uvicorn then stops taking
connections and gives open requests ``GRACEFUL_SHUTDOWN_S`` to finish (long waits and
event streams are cut then; their runs go on).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

import uvicorn
from fastapi import FastAPI

from engine import Client

from .app import create_app

GRACEFUL_SHUTDOWN_S = 5


class _Server(uvicorn.Server):
    """uvicorn's server, leaving the process's signals to its host."""

    @contextlib.contextmanager
    def capture_signals(self):
        yield


def make_server(
    app: FastAPI, host: str, port: int, *, log_level: str = "info", access_log: bool = True
) -> uvicorn.Server:
    """A uvicorn server for ``app`` (not started): ``await server.serve()``; port 0 picks a
    free port, read from ``server.servers[0].sockets[0].getsockname()`` once
    ``server.started``."""
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        lifespan="on",
        log_level=log_level,
        access_log=access_log,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
        proxy_headers=False,  # behind a proxy, the caller decides whom to trust
        server_header=False,
    )
    return _Server(config)


async def serve(
    client: Client,
    host: str,
    port: int,
    tokens: list[str] | None,
    registry: Any = None,
    *,
    max_body_bytes: int | None = None,
    webhook_secrets: dict | None = None,
    log_level: str = "info",
    stop: asyncio.Event,
    started: Callable[[int], None] | None = None,
) -> None:
    """Serve the API over ``client`` until ``stop`` is set. ``tokens`` are SHA-256 digests
    (None: no auth; the caller's decision), as for ``create_app``. ``started`` is told the
    port once it listens (port 0: the one the OS chose). ``webhook_secrets``: as for ``create_app``."""
    app = create_app(
        client, tokens=tokens, registry=registry, max_body_bytes=max_body_bytes, webhook_secrets=webhook_secrets
    )
    server = make_server(app, host, port, log_level=log_level, access_log=log_level in ("info", "debug", "trace"))
    serving = asyncio.ensure_future(server.serve())
    while not server.started and not serving.done():
        await asyncio.sleep(0.05)
    if serving.done():
        await serving  # it failed to start (the port is taken): raise that
        return
    if started is not None:
        started(server.servers[0].sockets[0].getsockname()[1])
    stopping = asyncio.ensure_future(stop.wait())
    await asyncio.wait([serving, stopping], return_when=asyncio.FIRST_COMPLETED)
    stopping.cancel()
    server.should_exit = True
    await serving
