"""Shared test helpers, one definition each.

* the engine harness over either log, ``assert_eventually`` and ``in_status``;
* real processes: ``run_cli``, ``spawn``, ``history`` (``logloom history --json``), ``read_topic``;
* fold records and effects for the unit tests of the fold: ``rec``, ``invoke``, ``claim``,
  ``owned``, ``apply_all``, ``kinds``, ``effect`` and a step error, ``ERROR``.
"""

from __future__ import annotations

import asyncio
import copy
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path

from engine import Client, EmbeddedLog, Execution, ExecutionNotFoundError, Worker, fold
from engine.fold import Effect, EffectKind, MemoryState
from engine.log.base import Log

ROOT = Path(__file__).resolve().parents[1]


async def assert_eventually(predicate, timeout: float = 20.0, interval: float = 0.05, message: str = ""):
    """Poll ``predicate`` (sync or async) until it returns truthy; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if asyncio.iscoroutine(last):
            last = await last
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"not true within {timeout}s: {message or predicate} (last value {last!r})")


async def in_status(client: Client, execution_id: str, status: str) -> Execution | None:
    """The execution if it has ``status`` now, else None (also while it does not exist yet).

    For polling: ``await assert_eventually(lambda: in_status(client, eid, "waiting"))``."""
    try:
        execution = await client.get_execution(execution_id)
    except ExecutionNotFoundError:
        return None
    return execution if execution.status == status else None


class EngineHarness:
    def __init__(self, log_kind: str, tmp_path: Path, namespace: str, bootstrap: str | None, partitions: int = 4):
        self.kind = log_kind
        self.tmp_path = tmp_path
        self.namespace = namespace
        self.bootstrap = bootstrap
        self.partitions = partitions
        self.logs: list[Log] = []
        self.workers: list[Worker] = []
        self.clients: list[Client] = []
        self._log: Log | None = None

    def new_log(self, data_dir: Path | None = None) -> Log:
        if self.kind == "embedded":
            return EmbeddedLog(data_dir or self.tmp_path, self.namespace, self.partitions)
        from engine.log.kafka import KafkaLog

        return KafkaLog(self.bootstrap, self.namespace, self.partitions, session_timeout_ms=6000)

    async def log(self) -> Log:
        if self._log is None:
            self._log = self.new_log()
            await self._log.start()
            self.logs.append(self._log)
        return self._log

    async def worker(self, data_dir: Path | None = None, registry=None, **options) -> Worker:
        """Start a worker; when it is the only one, wait until it owns every partition.

        ``options`` go to ``Worker``, e.g. ``evict_after_idle_s`` for tests of eviction."""
        worker = Worker(await self.log(), registry, data_dir=data_dir or self.tmp_path / "worker", **options)
        await worker.start()
        self.workers.append(worker)
        if len(self.workers) == 1:
            await assert_eventually(
                lambda: len(worker.active_partitions()) == self.partitions,
                timeout=60,
                message="the worker owns every partition",
            )
        return worker

    async def client(self, **options) -> Client:
        """A client of the harness's log; ``options`` go to ``Client`` (e.g. ``store_dir``)."""
        client = Client(await self.log(), **options)
        self.clients.append(client)
        return client

    async def stop_worker(self, worker: Worker) -> None:
        await worker.stop()
        self.workers.remove(worker)
        if self.kind == "embedded":  # the embedded log has one worker per process
            pass

    async def close(self) -> None:
        for client in self.clients:
            await client.close()
        for worker in self.workers:
            await worker.stop()
        for log in self.logs:
            await log.close()


def logloom_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "engine.cli", *args]


def run_cli(
    *args: str, env: dict | None = None, timeout: float = 120, input: str | None = None
) -> subprocess.CompletedProcess:
    """Run ``logloom ARGS`` to completion as a real process (``input`` on its stdin); output captured as text."""
    return subprocess.run(
        logloom_cmd(*args),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        input=input,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
    )


def history(execution_id: str, *args: str, env: dict | None = None) -> list[dict]:
    """``logloom history ID --json ARGS`` (e.g. ``--data-dir D`` or ``--kafka B --namespace N``): the
    records of its history file."""
    done = run_cli("history", execution_id, "--json", *args, env=env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)["records"]


async def read_topic(log, topic: str, count: int, timeout: float = 30) -> list:
    """The first ``count`` records of a named topic's partition 0."""
    reader = log.topic_reader(topic)
    reader.assign(0, 0)
    got: list = []

    async def enough():
        got.extend(await reader.poll(0.5))
        return len(got) >= count

    try:
        await assert_eventually(enough, timeout=timeout, message=f"{count} records on {topic}")
    finally:
        await reader.close()
    return got


def spawn(
    *args: str, env: dict | None = None, cwd: Path | None = None, log_file: Path | None = None
) -> subprocess.Popen:
    """Start ``logloom ARGS`` as a real process."""
    full_env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""), **(env or {})}
    out = open(log_file, "ab") if log_file else subprocess.DEVNULL
    return subprocess.Popen(logloom_cmd(*args), env=full_env, cwd=cwd or ROOT, stdout=out, stderr=out)


# -- the fold's unit tests: records as the log carries them, and the effects they have ----------

ERROR = {"code": "ERROR", "type": "ValueError", "message": "boom", "step": "s"}  # a step's error


def rec(type_: str, execution_id: str, epoch: int = 1, at: int = 1000, **fields) -> dict:
    """A journal record of ``type_`` for ``execution_id`` ("" for a partition's own records)."""
    return {"type": type_, "execution_id": execution_id, "epoch": epoch, "at": at, **fields}


def invoke(execution_id: str, **fields) -> dict:
    """An InvocationRequested command (epoch 0) of workflow "wf"; ``fields`` override or add to the rest."""
    invocation = {
        "workflow": "wf",
        "input": "{}",
        "user_id": None,
        "session_id": None,
        "parent_execution_id": None,
        "root_execution_id": None,
    }
    return rec("InvocationRequested", execution_id, 0, **{**invocation, **fields})


def claim(epoch: int, owner: str = "w") -> dict:
    """A PartitionClaimed record: ``owner`` claims the partition with ``epoch``."""
    return rec("PartitionClaimed", "", epoch, owner=owner)


def owned(owner: str = "w") -> MemoryState:
    """A partition's state, claimed by ``owner`` with epoch 1."""
    state = MemoryState()
    fold.apply(state, claim(1, owner))
    return state


def apply_all(state, records: Iterable[dict]) -> list[list[Effect]]:
    """Fold each record (a copy: the fold may change what it is given); the effects of each."""
    return [fold.apply(state, copy.deepcopy(r)) for r in records]


def kinds(effects: Iterable[Effect]) -> list[EffectKind]:
    """The kinds of ``effects``, in order."""
    return [e.kind for e in effects]


def effect(effects: Iterable[Effect], kind: EffectKind) -> Effect:
    """The one effect of ``kind`` among ``effects``; fails if there is none or more than one."""
    effects = list(effects)
    found = [e for e in effects if e.kind == kind]
    assert len(found) == 1, f"one {kind} effect expected, got {kinds(effects)}"
    return found[0]
