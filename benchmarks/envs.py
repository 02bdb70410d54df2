"""The two logs as benchmark environments: how to open a log, start a worker, and which
processes' CPU to count.

* ``EmbeddedEnv``: log, worker and client all in the harness process (the embedded log
  is single-process by design).
* ``KafkaEnv``: the client in the harness process, each worker a real
  ``python -m engine.cli worker`` process, and a broker: ``$LOGLOOM_KAFKA_BOOTSTRAP``
  (its CPU is counted only if ``$LOGLOOM_KAFKA_PID`` names it), else one started with
  ``deploy/kafka/kafka_local.py`` in a temp dir, counted, and stopped at the end.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from engine import Client, EmbeddedLog, Worker
from engine.log.base import Log

ROOT = Path(__file__).resolve().parents[1]
APPS = Path(__file__).resolve().parent / "apps.py"
KAFKA_LOCAL = ROOT / "deploy" / "kafka" / "kafka_local.py"


def new_namespace(prefix: str) -> str:
    return f"bench-{prefix}-{uuid.uuid4().hex[:10]}"


class Session:
    """One repetition's log, worker and client, on a fresh namespace and data dir."""

    def __init__(self, env, log: Log, worker, client: Client, namespace: str, workdir: Path):
        self.env, self.log, self.worker, self.client = env, log, worker, client
        self.namespace, self.workdir = namespace, workdir

    @property
    def pids(self) -> dict[str, int]:
        """Every process whose CPU counts: broker (if ours), worker, harness."""
        return {**self.env.pids, **self.worker.pids}

    async def guard(self, awaitable):
        """Await it; if it fails, report a dead worker process first (its log says why)."""
        try:
            return await awaitable
        except Exception:
            self.worker.check()
            raise


@contextlib.asynccontextmanager
async def session(env, prefix: str, app: Path = APPS, client_store: bool = False):
    """Open a log on a fresh namespace, start a worker (of ``app``, on Kafka) and a client;
    tear all down after. The embedded worker runs what this process registered. With
    ``client_store`` the client folds the journal into stores of its own (``store_dir``)."""
    workdir = Path(tempfile.mkdtemp(prefix=f"logloom-bench-{prefix}-"))
    namespace = new_namespace(prefix)
    log = env.new_log(workdir, namespace, env.partitions)
    await log.start()
    worker = client = None
    try:
        worker = await env.start_worker(log, namespace, workdir, app=app)
        client = Client(log, store_dir=workdir / "client-store" if client_store else None)
        yield Session(env, log, worker, client, namespace, workdir)
    finally:
        if client is not None:
            await client.close()
        if worker is not None:
            await worker.stop()
        await log.close()
        await env.drop_namespace(namespace)
        shutil.rmtree(workdir, ignore_errors=True)


class InProcessWorker:
    def __init__(self, worker: Worker):
        self.worker = worker
        self.pids: dict[str, int] = {}  # already counted as the harness process

    def check(self) -> None:
        pass

    async def status(self) -> dict:
        """The worker's ``status()``: runs in memory and its stores' RocksDB memory."""
        return self.worker.status()

    async def stop(self) -> None:
        await self.worker.stop()


class ProcessWorker:
    def __init__(self, proc: subprocess.Popen, log_path: Path, status_path: Path):
        self.proc = proc
        self.log_path = log_path
        self.status_path = status_path
        self.pids = {"worker": proc.pid}

    async def status(self) -> dict:
        """The worker's status file (``--status-file``), once it is written after this call."""
        import orjson

        asked_ms = time.time() * 1000
        while True:
            self.check()
            if self.status_path.exists():
                status = orjson.loads(self.status_path.read_bytes())
                if status["at"] >= asked_ms:
                    return status
            await asyncio.sleep(0.25)

    def check(self) -> None:
        """Raise, with the worker's last output, if the process has exited."""
        if self.proc.poll() is not None:
            tail = "\n".join(self.log_path.read_text(errors="replace").splitlines()[-30:])
            raise RuntimeError(f"worker process exited with code {self.proc.returncode}:\n{tail}")

    async def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # the CLI leaves the group and flushes on Ctrl-C
            try:
                await asyncio.to_thread(self.proc.wait, 30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                await asyncio.to_thread(self.proc.wait)


class EmbeddedEnv:
    kind = "embedded"
    partitions = 4

    def __init__(self, interceptors: tuple = ()):
        self.pids = {"harness": os.getpid()}  # worker + client
        self.info = {"log": "embedded (RocksDB, fsync per group commit)"}
        self.interceptors = interceptors  # workflow hooks of its workers (tracing's cost: w1-traced)

    def new_log(self, data_dir: Path, namespace: str, partitions: int) -> Log:
        return EmbeddedLog(data_dir, namespace, partitions=partitions)

    async def start_worker(
        self, log: Log, namespace: str, data_dir: Path, worker_id: str | None = None, app: Path = APPS
    ) -> InProcessWorker:
        worker = Worker(log, data_dir=data_dir, worker_id=worker_id, interceptors=self.interceptors)
        return InProcessWorker(await worker.start())

    async def drop_namespace(self, namespace: str) -> None:
        pass  # the data dir is removed with the repetition's temp dir

    def close(self) -> None:
        pass


def _load_kafka_local():
    """Import deploy/kafka/kafka_local.py by path (deploy/ is not a package)."""
    name = "logloom_kafka_local"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, KAFKA_LOCAL)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # its dataclasses need the module registered
        spec.loader.exec_module(module)
    return sys.modules[name]


class KafkaEnv:
    kind = "kafka"
    partitions = 8

    def __init__(self):
        self.broker = None
        self._broker_dir: Path | None = None
        self.pids = {"client": os.getpid()}
        bootstrap = os.environ.get("LOGLOOM_KAFKA_BOOTSTRAP")
        if bootstrap:
            self.bootstrap = bootstrap
            if os.environ.get("LOGLOOM_KAFKA_PID"):
                self.pids["broker"] = int(os.environ["LOGLOOM_KAFKA_PID"])
            counted = "counted" if "broker" in self.pids else "not counted (set LOGLOOM_KAFKA_PID)"
            self.info = {"log": "kafka", "broker": f"external {bootstrap}, CPU {counted}", **_librdkafka_options()}
            return
        atexit.register(self.close)  # never leave our broker behind
        for attempt in (1, 2):
            self._broker_dir = Path(tempfile.mkdtemp(prefix="logloom-bench-kafka-"))
            print(f"starting a Kafka broker in {self._broker_dir} ...", file=sys.stderr, flush=True)
            try:
                self.broker = _load_kafka_local().start(self._broker_dir)
                break
            except RuntimeError as exc:
                # kafka_local.py formats storage with a random cluster id that starts with '-'
                # one time in 64, which kafka-storage's argument parser rejects: try once more.
                shutil.rmtree(self._broker_dir, ignore_errors=True)
                if attempt == 2:
                    raise
                print(f"broker start failed, retrying once: {str(exc).splitlines()[0]}", file=sys.stderr)
        self.bootstrap = self.broker.bootstrap
        self.pids["broker"] = self.broker.pid
        print(f"broker ready at {self.bootstrap} (pid {self.broker.pid})", file=sys.stderr, flush=True)
        self.info = {
            "log": "kafka",
            "broker": f"kafka_local.py single node (KRaft), Kafka {_load_kafka_local().KAFKA_VERSION}, CPU counted",
        }
        self.info.update(_librdkafka_options())

    def new_log(self, data_dir: Path, namespace: str, partitions: int) -> Log:
        """The client's log; like the worker's, it takes LOGLOOM_KAFKA_PRODUCER/_CONSUMER options."""
        from engine.config import EngineConfig, open_log

        return open_log(EngineConfig.from_env(kafka=self.bootstrap, namespace=namespace, partitions=partitions))

    async def start_worker(
        self, log: Log, namespace: str, data_dir: Path, worker_id: str | None = None, app: Path = APPS
    ) -> ProcessWorker:
        """A worker process with its store under ``data_dir/worker`` (a restart reuses it)."""
        log_path = Path(data_dir) / f"{worker_id or 'worker'}.log"
        status_path = Path(data_dir) / f"{worker_id or 'worker'}-status.json"
        cmd = [
            sys.executable,
            "-m",
            "engine.cli",
            "worker",
            str(app),
            "--kafka",
            self.bootstrap,
            "--namespace",
            namespace,
            "--data-dir",
            str(Path(data_dir) / "worker"),
            "--partitions",
            str(log.num_partitions),
            *(["--worker-id", worker_id] if worker_id else []),
            "--status-file",
            str(status_path),
        ]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
        with open(log_path, "wb") as out:
            proc = subprocess.Popen(
                cmd, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT
            )
        return ProcessWorker(proc, log_path, status_path)

    async def drop_namespace(self, namespace: str) -> None:
        """Delete the namespace's topics: its journal, and the domain topics a workload made
        under it (``<namespace>.events``). Every repetition has a namespace of its own, so
        without this a long run leaves the broker hundreds of partitions to look after."""
        from confluent_kafka.admin import AdminClient

        def delete() -> None:
            admin = AdminClient({"bootstrap.servers": self.bootstrap})
            names = [t for t in admin.list_topics(timeout=30).topics if t.startswith(f"{namespace}.")]
            for name, future in admin.delete_topics(names).items() if names else []:
                try:
                    future.result(timeout=30)
                except Exception as exc:
                    print(f"note: could not delete {name}: {exc}", file=sys.stderr)

        await asyncio.to_thread(delete)

    def close(self) -> None:
        if self.broker is not None:
            print(f"stopping broker pid {self.broker.pid}", file=sys.stderr, flush=True)
            self.broker.stop()
            self.broker = None
        if self._broker_dir is not None:
            shutil.rmtree(self._broker_dir, ignore_errors=True)
            self._broker_dir = None


def _librdkafka_options() -> dict[str, str]:
    """Options set for this run beyond the engine's defaults, recorded with the results."""
    return {
        name.lower(): os.environ[name]
        for name in ("LOGLOOM_KAFKA_PRODUCER", "LOGLOOM_KAFKA_CONSUMER")
        if os.environ.get(name)
    }


def open_env(kind: str):
    return EmbeddedEnv() if kind == "embedded" else KafkaEnv()
