"""Real processes for the chaos tests: workers, the effects file, kill -9 and stop."""

import signal
import subprocess
from pathlib import Path

from helpers import ROOT, assert_eventually, spawn

APP = str(ROOT / "tests" / "apps" / "crash_app.py")


class Effects:
    def __init__(self, tmp_path: Path):
        self.path = tmp_path / "effects.txt"
        self.gates = tmp_path / "gates"
        self.gates.mkdir()
        self.env = {
            "LOGLOOM_TEST_EFFECTS": str(self.path),
            "LOGLOOM_TEST_GATES": str(self.gates),
            "LOGLOOM_KAFKA_SESSION_TIMEOUT_MS": "6000",
        }

    def lines(self) -> list[list[str]]:
        if not self.path.exists():
            return []
        return [line.split(",") for line in self.path.read_text().splitlines()]

    def count(self, execution_id: str, step: str, event: str = "ran") -> int:
        return sum(1 for e, s, ev, _ in self.lines() if (e, s, ev) == (execution_id, step, event))

    def pids(self, execution_id: str, step: str, event: str) -> list[int]:
        return [int(p) for e, s, ev, p in self.lines() if (e, s, ev) == (execution_id, step, event)]

    def open_gate(self, execution_id: str) -> None:
        (self.gates / execution_id).touch()


def kill9(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGCONT)
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            kill9(proc)


def kafka_worker(
    fx: Effects, bootstrap: str, namespace: str, data_dir: Path, log_file: Path, *args: str
) -> subprocess.Popen:
    """``logloom worker`` on Kafka, as a real process; ``args`` add to its options (e.g. ``--instance-id``)."""
    return spawn(
        "worker",
        APP,
        "--kafka",
        bootstrap,
        "--namespace",
        namespace,
        "--partitions",
        "4",
        "--data-dir",
        str(data_dir),
        *args,
        "-v",
        env=fx.env,
        log_file=log_file,
    )


def owns_partitions(log_file: Path) -> bool:
    """The worker logged that it owns at least one partition."""
    return log_file.exists() and "active with epoch" in log_file.read_text()


def embedded_worker(fx: Effects, data_dir: Path, log_file: Path) -> subprocess.Popen:
    """``logloom worker`` on the embedded log, as a real process (wait with owns_partitions)."""
    return spawn("worker", APP, "--data-dir", str(data_dir), "-v", env=fx.env, log_file=log_file)


async def owning(proc: subprocess.Popen, log_file: Path, name: str) -> subprocess.Popen:
    """Return the worker ``proc`` once ``log_file`` says it owns partitions; stop it if that does not come."""
    try:
        await assert_eventually(lambda: owns_partitions(log_file), timeout=60, message=f"{name} owns partitions")
    except BaseException:
        stop(proc)
        raise
    return proc


async def kafka_worker_owning(
    fx: Effects, bootstrap: str, namespace: str, tmp_path: Path, name: str
) -> subprocess.Popen:
    """Start a Kafka worker (data in ``tmp_path/name``, log ``name.log``); return once it owns partitions."""
    log_file = tmp_path / f"{name}.log"
    return await owning(kafka_worker(fx, bootstrap, namespace, tmp_path / name, log_file), log_file, name)


async def embedded_worker_owning(fx: Effects, data_dir: Path, log_file: Path) -> subprocess.Popen:
    """Start an embedded worker (``embedded_worker``); return once it owns partitions."""
    return await owning(embedded_worker(fx, data_dir, log_file), log_file, log_file.stem)
