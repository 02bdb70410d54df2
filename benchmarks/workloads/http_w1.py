"""HTTP W1: W1 over the HTTP API against W1 through the Python client, on the same log.

One repetition, on a fresh namespace:

1. the Python client's W1, as the ``w1`` workload runs it: a session's worker (in the
   harness on the embedded log, a worker process on Kafka) and the harness's client;
   50 warm-up workflows, then ``--w1-workflows`` (2,000) ``bench_w1`` runs, at most 64 in
   flight, each timed from ``invoke`` to ``result``;
2. the API is served by ``logloom serve benchmarks/apps.py --no-auth`` in a process of its
   own. On Kafka it serves the same namespace with ``--no-worker``, so the session's
   worker runs both phases' workflows. The embedded log belongs to one process, so there
   ``serve`` hosts its own log and worker in a data dir of its own (as ``logloom serve``
   is deployed on the embedded log);
3. ``wrk`` (Debian's package; a Python client could not keep up: httpx spends about
   2-3 ms of CPU per request) with ``benchmarks/http_w1.lua``: 64 connections, each
   ``POST /v1/workflows/bench_w1/runs?wait=true`` with an input of its own, every answer
   checked (200, completed). 2 s of warm-up, then 10 s measured.

CPU seconds are counted for every process involved in each phase (worker, broker,
server; wrk's own CPU is ``http_cpu_ms_per_wf_wrk``), so ``http_cpu_ms_per_wf`` is what
the HTTP path costs in all.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from ..envs import APPS, ROOT, session
from ..procstat import CpuMeter
from ..stats import percentile
from . import Metric, Workload, register
from .w1 import _concurrent

RESULT_TIMEOUT_S = 120.0
SERVER_START_S = 60.0
WARMUP_S = 2.0  # of wrk against the server, unmeasured
HTTP_SECONDS = 10.0  # of wrk, measured
WRK_SCRIPT = Path(__file__).resolve().parents[1] / "http_w1.lua"


def _children_cpu_s() -> float:
    """CPU seconds of this process's children that have ended (wrk, once it returns)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Server:
    """``logloom serve`` in a process of its own, its output in ``log_path``."""

    def __init__(self, env, s, workdir: Path):
        self.port = _free_port()
        self.log_path = workdir / "serve.log"
        cmd = [sys.executable, "-m", "engine.cli", "serve", str(APPS), "--no-auth", "--port", str(self.port)]
        cmd += ["--partitions", str(s.log.num_partitions), "--quiet"]
        if env.kind == "kafka":
            cmd += ["--kafka", env.bootstrap, "--namespace", s.namespace, "--no-worker"]
            cmd += ["--data-dir", str(workdir / "serve")]
        else:
            cmd += ["--namespace", f"{s.namespace}-http", "--data-dir", str(workdir / "serve")]
        path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
        with open(self.log_path, "wb") as out:
            self.proc = subprocess.Popen(
                cmd, cwd=ROOT, env={**os.environ, "PYTHONPATH": path},
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip

    def check(self) -> None:
        if self.proc.poll() is not None:
            tail = "\n".join(self.log_path.read_text(errors="replace").splitlines()[-30:])
            raise RuntimeError(f"logloom serve exited with code {self.proc.returncode}:\n{tail}")

    async def ready(self) -> None:
        """Wait until ``/healthz`` answers."""
        deadline = time.monotonic() + SERVER_START_S
        url = f"http://127.0.0.1:{self.port}/healthz"
        while True:
            self.check()
            try:
                with urllib.request.urlopen(url, timeout=5) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                if time.monotonic() > deadline:
                    raise
            await asyncio.sleep(0.1)

    async def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.to_thread(self.proc.wait, 30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                await asyncio.to_thread(self.proc.wait)


def _wrk(port: int, seconds: float, concurrency: int, base: int) -> dict:
    """Run wrk with ``http_w1.lua``; its summary (requests, checks, latency in µs)."""
    if shutil.which("wrk") is None:
        raise RuntimeError("the http workload drives the API with wrk: apt-get install wrk")
    cmd = ["wrk", "-t1", f"-c{concurrency}", f"-d{seconds:g}s", "--timeout", f"{RESULT_TIMEOUT_S:g}s"]
    cmd += ["-s", str(WRK_SCRIPT), f"http://127.0.0.1:{port}"]
    out = subprocess.run(cmd, env={**os.environ, "HTTP_W1_BASE": str(base)}, capture_output=True, text=True, check=True)
    line = next((x for x in out.stdout.splitlines() if x.startswith("HTTP_W1 ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no summary:\n{out.stdout}\n{out.stderr}")
    summary = json.loads(line.removeprefix("HTTP_W1 "))
    if summary["bad"] or summary["errors"]:
        raise AssertionError(f"{summary['bad']} bad answers, {summary['errors']} errors; first: {summary['first_bad']}")
    return summary


async def run(env, params: dict) -> dict[str, float]:
    n, concurrency = params["workflows"], params["concurrency"]
    async with session(env, "http") as s:
        await s.guard(_concurrent(s.client, 0, params["warmup"], concurrency))  # 1.
        meter = CpuMeter(s.pids)
        t0 = time.perf_counter()
        direct = await s.guard(_concurrent(s.client, 1_000_000, n, concurrency))
        direct_s = time.perf_counter() - t0
        direct_cpu = meter.stop()

        server = _Server(env, s, s.workdir)  # 2.
        try:
            await server.ready()
            await asyncio.to_thread(_wrk, server.port, WARMUP_S, concurrency, 10_000_000)  # 3.
            pids = {**s.pids, "server": server.proc.pid}
            if env.kind == "embedded":
                pids = {"server": server.proc.pid}  # the harness's worker and client idle
            meter = CpuMeter(pids)
            wrk_cpu_s = _children_cpu_s()
            summary = await asyncio.to_thread(_wrk, server.port, params["seconds"], concurrency, 20_000_000)
            wrk_cpu_s = _children_cpu_s() - wrk_cpu_s
            http_cpu = meter.stop()
        except Exception:
            server.check()
            raise
        finally:
            await server.stop()
    done = summary["requests"]
    http_wf_per_s = done / (summary["duration_us"] / 1e6)
    client_wf_per_s = n / direct_s
    return {
        "http_wf_per_s": http_wf_per_s,
        "client_wf_per_s": client_wf_per_s,
        "http_vs_client": http_wf_per_s / client_wf_per_s,
        "http_p50_ms": summary["p50_us"] / 1000,
        "http_p99_ms": summary["p99_us"] / 1000,
        "client_p50_ms": percentile(direct, 50) * 1000,
        "client_p99_ms": percentile(direct, 99) * 1000,
        "http_cpu_ms_per_wf": (sum(http_cpu.values()) + wrk_cpu_s) * 1000 / done,
        "http_cpu_ms_per_wf_server": http_cpu["server"] * 1000 / done,
        "http_cpu_ms_per_wf_wrk": wrk_cpu_s * 1000 / done,
        "client_cpu_ms_per_wf": sum(direct_cpu.values()) * 1000 / n,
        "http_runs": done,
    }


def variants(args) -> list[dict]:
    return [{"workflows": args.w1_workflows, "concurrency": 64, "warmup": 50, "seconds": HTTP_SECONDS}]


register(
    Workload(
        name="http",
        summary="W1 over the HTTP API (logloom serve, invoke and wait) against W1 through the Python client",
        metrics=(
            Metric("http_wf_per_s", "W1 over HTTP, 64 in flight", "wf/s", "higher"),
            Metric("client_wf_per_s", "W1 through the Python client, 64 in flight", "wf/s", "higher"),
            Metric("http_vs_client", "HTTP throughput / client throughput", "", "higher"),
            Metric("http_p50_ms", "HTTP: POST to answer, p50", "ms", "lower"),
            Metric("http_p99_ms", "HTTP: POST to answer, p99", "ms", "lower"),
            Metric("client_p50_ms", "client: invoke to result, p50", "ms", "lower"),
            Metric("client_p99_ms", "client: invoke to result, p99", "ms", "lower"),
            Metric("http_cpu_ms_per_wf", "HTTP: CPU per workflow, all processes", "ms", "lower"),
            Metric("http_cpu_ms_per_wf_server", "HTTP: CPU per workflow, the serve process", "ms", "lower"),
            Metric("http_cpu_ms_per_wf_wrk", "HTTP: CPU per workflow, wrk", "ms", "lower"),
            Metric("client_cpu_ms_per_wf", "client: CPU per workflow, all processes", "ms", "lower"),
            Metric("http_runs", "HTTP: runs completed in the measured 10 s", "runs"),
        ),
        run=run,
        variants=variants,
    )
)
