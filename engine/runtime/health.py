"""Health and readiness over HTTP, for probes: ``logloom worker --health-port 8081``.

A worker serves nothing to clients, so its probes say two things, each from what the
worker knows about itself:

- ``GET /livez``: 200 while the worker's event loop is turning. The loop refreshes a
  snapshot every ``REFRESH_S``; a snapshot older than ``STALE_AFTER_S`` means the loop is
  stuck, and the answer is 503 (restart it).
- ``GET /readyz``: 200 when the worker has joined its group, every partition it owns has
  replayed and claimed (``active``), and each one's lag, the records on the log it has
  not folded yet, is at most ``max_lag_records``. 503 otherwise, and from the moment a
  graceful shutdown starts. A worker that owns no partition (more workers than
  partitions) is ready: it is a standby.
- ``GET /status``: the same, with the worker's whole status (``runtime.status``) as of
  the snapshot.
- ``GET /metrics``: Prometheus' text format (``runtime.metrics``), when the endpoints
  were given the worker's ``WorkerMetrics`` (``logloom worker --health-port`` does).

Every answer is JSON: ``{"ready", "live", "reason", "worker", "partitions": {P: {"phase",
"applied", "end", "lag"}}}``.

1. ``start`` binds the port (an error there stops the worker's start: a probe that can
   never answer is worse than none), starts the refresh task on the loop, and serves on
   a thread of its own (``http.server``), so a busy loop cannot delay a probe.
2. Every ``REFRESH_S`` the task reads each owned partition's end offset from the log
   and swaps in a new snapshot; the HTTP thread only reads the current one.
3. ``draining()`` turns readiness off at once; ``stop`` closes the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import orjson

from .status import worker_status

log = logging.getLogger(__name__)

REFRESH_S = 1.0
STALE_AFTER_S = 30.0
MAX_LAG_RECORDS = 1000


class HealthEndpoints:
    def __init__(self, worker, port: int, host: str = "0.0.0.0", max_lag_records: int = MAX_LAG_RECORDS, metrics=None):
        self.worker = worker
        self.metrics = metrics  # a WorkerMetrics installed as the worker's interceptor, or None
        if metrics is not None:
            metrics.watch(worker, self.lags)
        self.host, self.port = host, port
        self.max_lag_records = max_lag_records
        self._snapshot: dict = {"ready": False, "reason": "starting", "partitions": {}, "at": time.monotonic()}
        self._draining = False
        self._server: ThreadingHTTPServer | None = None
        self._refresh: asyncio.Task | None = None

    async def start(self) -> HealthEndpoints:
        """Step 1."""
        self._server = ThreadingHTTPServer((self.host, self.port), _handler(self))
        self.port = self._server.server_address[1]  # port 0: the one the OS chose
        threading.Thread(target=self._server.serve_forever, name="health-http", daemon=True).start()
        self._refresh = asyncio.ensure_future(self._refresh_forever())
        log.info("health: /livez and /readyz on port %d", self.port)
        return self

    def lags(self) -> dict[int, int]:
        """Each owned partition's lag in records, as of the last snapshot."""
        return {int(p): info["lag"] for p, info in self._snapshot.get("partitions", {}).items()}

    def draining(self) -> None:
        """Step 3: a graceful shutdown has begun; not ready from now on."""
        self._draining = True
        self._snapshot = {**self._snapshot, "ready": False, "reason": "draining: shutting down"}

    async def stop(self) -> None:
        if self._refresh is not None:
            self._refresh.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._refresh
        if self._server is not None:
            await asyncio.to_thread(self._server.shutdown)
            self._server.server_close()

    async def _refresh_forever(self) -> None:
        """Step 2."""
        while True:
            try:
                self._snapshot = await self.readiness()
            except Exception as exc:  # the log did not answer: not ready, still live
                self._snapshot = {**self._snapshot, "ready": False, "reason": f"cannot read the log: {exc}",
                                  "at": time.monotonic()}  # fmt: skip
            await asyncio.sleep(REFRESH_S)

    async def readiness(self) -> dict:
        worker = self.worker
        partitions = {}
        for partition, processor in sorted(worker.processors.items()):
            end = await worker.log.end_offset(partition)
            partitions[str(partition)] = {
                "phase": processor.phase.value,
                "applied": processor.applied,
                "end": end,
                "lag": max(0, end - processor.applied - 1),
            }
        lagging = [p for p, info in partitions.items() if info["lag"] > self.max_lag_records]
        replaying = [p for p, info in partitions.items() if info["phase"] != "active"]
        if self._draining:
            reason = "draining: shutting down"
        elif not worker.joined:
            reason = "not a member of the worker group yet"
        elif replaying:
            reason = f"partitions {', '.join(replaying)} are replaying or claiming"
        elif lagging:
            reason = f"partitions {', '.join(lagging)} lag more than {self.max_lag_records} records"
        else:
            reason = "owns no partition: a standby" if not partitions else "caught up"
        ready = reason in ("caught up", "owns no partition: a standby")
        return {"ready": ready, "reason": reason, "worker": worker.worker_id, "partitions": partitions,
                "status": worker_status(worker), "at": time.monotonic()}  # fmt: skip

    def answer(self, path: str) -> tuple[int, dict]:
        """What the HTTP thread serves: (status code, JSON body)."""
        snapshot = dict(self._snapshot)
        age_s = time.monotonic() - snapshot.pop("at")
        status = snapshot.pop("status", None)
        live = age_s < STALE_AFTER_S
        body = {**snapshot, "live": live, "snapshot_age_s": round(age_s, 3)}
        if path == "/livez":
            return (200 if live else 503), body
        if path == "/readyz":
            return (200 if live and snapshot["ready"] else 503), body
        if path == "/status":
            return 200, {**body, "status": status}
        return 404, {"error": f"no such endpoint {path!r}: /livez, /readyz, /status"}


def _handler(endpoints: HealthEndpoints) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            path = self.path.split("?")[0]
            if path == "/metrics" and endpoints.metrics is not None:
                payload, content_type = endpoints.metrics.exposition()
                code = 200
            else:
                code, body = endpoints.answer(path)
                payload, content_type = orjson.dumps(body), "application/json"
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args) -> None:  # noqa: A002 - http.server's signature
            log.debug("health: " + format, *args)

    return Handler
