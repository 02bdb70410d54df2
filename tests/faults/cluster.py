"""Real worker processes on Kafka under a steady load, for the fault suite.

``Workers`` runs ``logloom worker benchmarks/apps.py`` processes, each with a data dir
and a health port of its own, and does to them what operators and failures do:
``kill -9``, ``SIGSTOP``/``SIGCONT``, ``SIGTERM``, start again. ``Load`` keeps a number of
``bench_fault`` runs (W1's three steps; each body notes when it ran in the effects file)
in flight until it is stopped, then waits for every one of them.
``verdict`` reads the journal back and judges the run (``benchmarks/fault_verdict.py``).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import resource
import signal
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

from helpers import ROOT, logloom_cmd

from benchmarks import journal
from benchmarks.apps import bench_fault
from benchmarks.fault_verdict import Verdict, judge
from engine import Client

APP = str(ROOT / "benchmarks" / "apps.py")
PARTITIONS = 4
RESULT_TIMEOUT_S = 120.0


class Workers:
    def __init__(self, tmp_path: Path, bootstrap: str, namespace: str, env: dict | None = None):
        self.tmp_path, self.bootstrap, self.namespace = tmp_path, bootstrap, namespace
        self.env = env or {}
        self.procs: dict[str, subprocess.Popen] = {}
        self.faults: list[tuple[float, str]] = []  # (time, worker) of each kill or stop

    def log_file(self, name: str) -> Path:
        return self.tmp_path / f"{name}.log"

    def start(self, name: str, *extra: str) -> subprocess.Popen:
        """Start worker ``name``. Its output reaches its log file through a pipe, which the
        test process copies: a limit on the worker's file sizes (``limit_file_size``) then
        stops its stores' writes, not its log lines."""
        args = logloom_cmd(
            "worker", APP, "--kafka", self.bootstrap, "--namespace", self.namespace,
            "--partitions", str(PARTITIONS), "--data-dir", str(self.tmp_path / name), "--worker-id", name,
            "--health-port", "0", "--drain-timeout", "20", *extra, "-v",
        )  # fmt: skip
        env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""), **self.env}
        proc = subprocess.Popen(args, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        threading.Thread(target=_copy, args=(proc.stdout, self.log_file(name)), daemon=True).start()
        self.procs[name] = proc
        return proc

    def limit_file_size(self, name: str, max_bytes: int) -> None:
        """RLIMIT_FSIZE on the running worker: any write past ``max_bytes`` into a file
        fails (EFBIG), as when its disk is full."""
        resource.prlimit(self.procs[name].pid, resource.RLIMIT_FSIZE, (max_bytes, max_bytes))
        self.faults.append((time.time(), name))

    def health_port(self, name: str) -> int | None:
        """The port the worker's last start printed (``--health-port 0``: the OS chose it)."""
        path = self.log_file(name)
        found = re.findall(r"health on port (\d+)", path.read_text(errors="replace")) if path.exists() else []
        return int(found[-1]) if found else None

    def probe(self, name: str, path: str = "/readyz") -> tuple[int, dict]:
        port = self.health_port(name)
        if port is None:
            return 0, {}
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as answer:
                return answer.status, json.loads(answer.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"{}")
        except OSError:
            return 0, {}

    async def until_ready(self, *names: str, timeout_s: float = 90.0) -> None:
        """Every named worker answers /readyz 200, and together they own every partition."""
        deadline = time.monotonic() + timeout_s
        while True:
            answers = {name: self.probe(name) for name in names}
            owned = {p for _, body in answers.values() for p in body.get("partitions", {})}
            if all(code == 200 for code, _ in answers.values()) and len(owned) >= PARTITIONS:
                return
            for name in names:
                if self.procs[name].poll() is not None:
                    raise AssertionError(f"worker {name} exited with {self.procs[name].returncode}:\n{self.tail(name)}")
            if time.monotonic() > deadline:
                raise AssertionError(f"workers not ready after {timeout_s:g} s: {answers}")
            await asyncio.sleep(0.2)

    def kill9(self, name: str) -> None:
        self.procs[name].send_signal(signal.SIGKILL)
        self.procs[name].wait(timeout=10)
        self.faults.append((time.time(), name))

    def stop(self, name: str) -> None:
        """SIGSTOP: the process freezes (its heartbeats too) until ``cont``."""
        self.procs[name].send_signal(signal.SIGSTOP)
        self.faults.append((time.time(), name))

    def cont(self, name: str) -> None:
        self.procs[name].send_signal(signal.SIGCONT)

    async def terminate(self, name: str, timeout_s: float = 60.0) -> int:
        """SIGTERM, and wait for the graceful exit; returns its exit code."""
        self.faults.append((time.time(), name))
        self.procs[name].send_signal(signal.SIGTERM)
        return await asyncio.to_thread(self.procs[name].wait, timeout_s)

    def replays(self, name: str) -> list[tuple[int, float]]:
        """(records, seconds) of each partition replay the worker logged."""
        path = self.log_file(name)
        text = path.read_text(errors="replace") if path.exists() else ""
        return [
            (int(n), float(s))
            for n, s in re.findall(r"replayed (\d+) records \(offsets -?\d+ to -?\d+\) in ([\d.]+) s", text)
        ]

    def tail(self, name: str, lines: int = 40) -> str:
        path = self.log_file(name)
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGCONT)
                proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _copy(stream, path: Path) -> None:
    with open(path, "ab") as out:
        for line in iter(stream.readline, b""):
            out.write(line)
            out.flush()


class EffectsPipe:
    """An effects file whose writers are not limited by a worker's file-size limit: step
    bodies write their lines into a FIFO, and a thread of the test copies them into the
    file (a FIFO is not a regular file: RLIMIT_FSIZE does not apply to it)."""

    def __init__(self, effects: Path):
        self.effects = effects
        self.fifo = effects.with_suffix(".fifo")
        os.mkfifo(self.fifo)
        self._fd = os.open(self.fifo, os.O_RDWR)  # holds a write end too: no EOF between writers
        self._last_read = time.monotonic()
        threading.Thread(target=self._copy, daemon=True).start()

    def _copy(self) -> None:
        with open(self.effects, "ab") as out:
            while True:
                chunk = os.read(self._fd, 65536)
                out.write(chunk)
                out.flush()
                self._last_read = time.monotonic()

    async def drained(self, quiet_s: float = 0.5) -> None:
        """Wait until nothing has come through for ``quiet_s``: every line is in the file."""
        while time.monotonic() - self._last_read < quiet_s:
            await asyncio.sleep(0.1)


class Load:
    """``in_flight`` runs of ``bench_fault`` at all times, fresh ids, until ``stop``."""

    def __init__(self, client: Client, effects: Path, in_flight: int = 16):
        """``effects``: where the step bodies write (the effects file, or its FIFO)."""
        self.client, self.effects, self.in_flight = client, effects, in_flight
        self.results: dict[str, int] = {}
        self.expected: dict[str, int] = {}
        self._stopping = False
        self._task: asyncio.Task | None = None

    def start(self) -> Load:
        self._task = asyncio.create_task(self._run())
        return self

    async def _run(self) -> None:
        limit = asyncio.Semaphore(self.in_flight)
        tasks = []
        i = 0
        while not self._stopping:
            await limit.acquire()
            if self._stopping:
                break
            tasks.append(asyncio.create_task(self._one(i, limit)))
            i += 1
        await asyncio.gather(*tasks)

    async def _one(self, i: int, limit: asyncio.Semaphore) -> None:
        try:
            handle = await bench_fault.invoke(self.client, {"effects": str(self.effects), "x": i})
            self.expected[handle.execution_id] = i + 3
            self.results[handle.execution_id] = await handle.result(timeout=RESULT_TIMEOUT_S)
        finally:
            limit.release()

    def completed(self) -> int:
        return len(self.results)

    async def until_completed(self, more: int, timeout_s: float = 60.0) -> None:
        """Wait until ``more`` runs more than now have completed: the load makes progress."""
        target = self.completed() + more
        deadline = time.monotonic() + timeout_s
        while self.completed() < target:
            if time.monotonic() > deadline:
                raise AssertionError(f"the load stalled: {self.completed()} of {target} runs completed")
            await asyncio.sleep(0.05)

    async def stop(self) -> None:
        """Start no more runs; wait for every run in flight to return its result."""
        self._stopping = True
        await self._task


async def verdict(client: Client, effects: Path, faults: list[tuple[float, str | None]], load: Load) -> Verdict:
    """Read the journal back, judge the run (``benchmarks/fault_verdict.py``), and print a
    line of figures for the record (``pytest -s``)."""
    judged = judge(effects, await journal.scan(client.log), faults)
    print(f"\n[faults] runs {len(load.results)}, {judged.summary()}")
    return judged
