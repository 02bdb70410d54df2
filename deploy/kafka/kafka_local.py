#!/usr/bin/env python3
"""Run a real single-node (KRaft, combined broker+controller) Apache Kafka broker
from Maven Central jars -- no Docker, no Apache download site. Stdlib only.

Command line:

    python deploy/kafka/kafka_local.py fetch
    python deploy/kafka/kafka_local.py start [--port P] [--controller-port C]
                                             [--data-dir D] [--foreground]
    python deploy/kafka/kafka_local.py stop --data-dir D

Python (load by file path; deploy/ is not a package):

    broker = kafka_local.start(Path("/tmp/kafka"))   # -> Broker(bootstrap, pid, data_dir)
    ...
    broker.stop()

Needs Java 17+ and Maven (`mvn`) on PATH. Jars are cached in $LOGLOOM_KAFKA_HOME, or
~/.cache/logloom/kafka-<version>/libs, so they are downloaded once per machine.

Durability: Kafka does not fsync each write; it relies on replication. This single
dev broker survives a process crash without losing acknowledged writes, but may lose
the last writes on a power cut / OS crash. Production uses replication factor 3 and
acks=all.
"""

from __future__ import annotations

import argparse
import base64
import dataclasses
import hashlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

KAFKA_VERSION = "4.1.1"
HERE = Path(__file__).resolve().parent
POM = HERE / "pom.xml"
LOG4J_CONFIG = HERE / "log4j2.properties"
READY_LINE = "Kafka Server started"
MARKER = ".logloom-fetch-complete"  # written into the libs dir after a successful fetch
STOP_GRACE_S = 20.0


# --------------------------------------------------------------------------- fetch


def libs_dir() -> Path:
    """Where the broker's jars live: $LOGLOOM_KAFKA_HOME or the per-user cache."""
    env = os.environ.get("LOGLOOM_KAFKA_HOME")
    if env:
        return Path(env).expanduser().resolve()
    return Path.home() / ".cache" / "logloom" / f"kafka-{KAFKA_VERSION}" / "libs"


def _pom_digest() -> str:
    return hashlib.sha256(POM.read_bytes()).hexdigest()


def _is_complete(libs: Path) -> bool:
    marker = libs / MARKER
    return marker.is_file() and marker.read_text().strip() == _pom_digest()


def fetch() -> Path:
    """Resolve the broker's runtime classpath into the cache dir (once). Returns the dir."""
    libs = libs_dir()
    if _is_complete(libs):
        return libs
    if libs.exists() and any(libs.iterdir()) and not (libs / MARKER).exists():
        raise RuntimeError(
            f"{libs} exists, is not empty and was not created by `kafka_local.py fetch`; "
            "remove it or point LOGLOOM_KAFKA_HOME at another directory"
        )
    mvn = shutil.which("mvn")
    if mvn is None:
        raise RuntimeError("Maven (`mvn`) is not on PATH; it is needed to download the Kafka jars")

    # Resolve into a private temp dir, then rename into place: an interrupted or
    # concurrent fetch never leaves a half-filled libs dir behind.
    libs.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{libs.name}.tmp-", dir=libs.parent))
    try:
        cmd = [
            mvn,
            "-q",
            "-B",
            "-f",
            str(POM),
            "dependency:copy-dependencies",
            "-DincludeScope=runtime",
            f"-DoutputDirectory={tmp}",
        ]
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"`{' '.join(cmd)}` failed (exit {proc.returncode}):\n{_tail(proc.stdout, 50)}")
        if not any(tmp.glob("kafka_2.13-*.jar")):
            raise RuntimeError(f"Maven finished but no kafka_2.13 jar appeared in {tmp}")
        (tmp / MARKER).write_text(_pom_digest() + "\n")
        tmp.chmod(0o755)  # mkdtemp makes it 0700
        if _is_complete(libs):  # another process won the race
            return libs
        if libs.exists():  # a stale fetch of ours (different pom.xml)
            shutil.rmtree(libs)
        os.replace(tmp, libs)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return libs


# --------------------------------------------------------------------------- start / stop


@dataclasses.dataclass
class Broker:
    bootstrap: str
    pid: int
    data_dir: Path
    _proc: subprocess.Popen | None = dataclasses.field(default=None, repr=False, compare=False)

    @property
    def log_path(self) -> Path:
        return self.data_dir / "broker.log"

    def stop(self, timeout: float = STOP_GRACE_S) -> None:
        """SIGTERM, then SIGKILL after `timeout` seconds. Safe to call twice."""
        _terminate(self.pid, timeout, self._proc)


def _free_port(exclude: set[int] = frozenset()) -> int:
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in exclude:
            return port


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        # Like the JVM's server sockets: lingering TIME_WAIT connections don't block reuse.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _server_properties(data_dir: Path, port: int, cport: int) -> str:
    settings = {
        # single combined node, static quorum
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@127.0.0.1:{cport}",
        "controller.listener.names": "CONTROLLER",
        "listeners": f"PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{cport}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{port}",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "log.dirs": str(data_dir / "kraft-logs"),
        # a one-node cluster: without these, transactions and consumer groups hang
        "offsets.topic.replication.factor": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        "default.replication.factor": "1",
        "min.insync.replicas": "1",
        "offsets.topic.num.partitions": "1",
        "transaction.state.log.num.partitions": "1",
        "num.partitions": "1",
        # fast, strict test behaviour
        "group.initial.rebalance.delay.ms": "0",
        "group.min.session.timeout.ms": "1000",
        "auto.create.topics.enable": "false",
        # fit in a 512 MiB heap on 2 cores
        "log.cleaner.dedupe.buffer.size": str(16 * 1024 * 1024),
        "num.network.threads": "2",
        "num.io.threads": "2",
        "background.threads": "2",
    }
    lines = ["# Written by deploy/kafka/kafka_local.py; rewritten on every start."]
    lines += [f"{k}={v}" for k, v in settings.items()]
    return "\n".join(lines) + "\n"


def _java() -> str:
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").is_file():
        return str(Path(java_home) / "bin" / "java")
    java = shutil.which("java")
    if java is None:
        raise RuntimeError("`java` (17+) is not on PATH and JAVA_HOME is not set")
    return java


def _java_cmd(libs: Path, main: str, *args: str, heap: bool = True) -> list[str]:
    cmd = [_java()]
    if heap:
        cmd += ["-Xms256m", "-Xmx512m"]
    cmd += [f"-Dlog4j2.configurationFile={LOG4J_CONFIG}", "-cp", f"{libs}/*", main, *args]
    return cmd


def _format_storage(libs: Path, props: Path, data_dir: Path) -> None:
    if (data_dir / "kraft-logs" / "meta.properties").exists():
        return  # already formatted; re-formatting a formatted dir fails
    cluster_id = base64.urlsafe_b64encode(secrets.token_bytes(16)).decode().rstrip("=")
    cmd = _java_cmd(
        libs, "kafka.tools.StorageTool", "format", f"--cluster-id={cluster_id}", "-c", str(props), heap=False
    )
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"formatting {data_dir} failed (exit {proc.returncode}):\n{_tail(proc.stdout, 50)}")


def _read_state(data_dir: Path) -> dict:
    try:
        return json.loads((data_dir / "broker.json").read_text())
    except (OSError, ValueError):
        return {}


def start(data_dir: Path, port: int | None = None, controller_port: int | None = None, timeout: float = 120) -> Broker:
    """Start a detached broker using `data_dir`; return once it is ready.

    Ports default to the ones of the previous run in the same data dir (so clients can
    reconnect after a restart) if still free, else to fresh free ports. Storage is
    formatted on first use only, so data survives a stop/start.
    """
    libs = fetch()
    data_dir = Path(data_dir).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)

    previous = _read_state(data_dir)
    if previous.get("pid") and _is_kafka_pid(previous["pid"]):
        raise RuntimeError(
            f"a broker already runs on {data_dir} (pid {previous['pid']}, {previous.get('bootstrap')}); stop it first"
        )
    if port is None:
        old = previous.get("port")
        port = old if old and _port_is_free(old) else _free_port()
    if controller_port is None:
        old = previous.get("controller_port")
        if old and old != port and _port_is_free(old):
            controller_port = old
        else:
            controller_port = _free_port(exclude={port})
    if port == controller_port:
        raise ValueError(f"port and controller port must differ (both {port})")

    props = data_dir / "server.properties"
    props.write_text(_server_properties(data_dir, port, controller_port))
    _format_storage(libs, props, data_dir)

    log_path = data_dir / "broker.log"
    with open(log_path, "ab") as log:
        log.write(f"\n===== kafka_local.py start {time.strftime('%Y-%m-%d %H:%M:%S')} =====\n".encode())
        log.flush()
        log_offset = log.tell()
        proc = subprocess.Popen(
            _java_cmd(libs, "kafka.Kafka", str(props)),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=data_dir,
            start_new_session=True,
        )
    broker = Broker(bootstrap=f"127.0.0.1:{port}", pid=proc.pid, data_dir=data_dir, _proc=proc)

    deadline = time.monotonic() + timeout
    while True:
        with open(log_path, "rb") as f:
            f.seek(log_offset)
            if READY_LINE.encode() in f.read():
                break
        if proc.poll() is not None:
            raise RuntimeError(
                f"Kafka broker exited with code {proc.returncode} before it was "
                f"ready; last lines of {log_path}:\n{_tail_file(log_path, 50)}"
            )
        if time.monotonic() > deadline:
            broker.stop(timeout=5)
            raise RuntimeError(
                f"Kafka broker not ready after {timeout:.0f}s (no '{READY_LINE}'); "
                f"last lines of {log_path}:\n{_tail_file(log_path, 50)}"
            )
        time.sleep(0.2)

    (data_dir / "broker.json").write_text(
        json.dumps(
            {
                "bootstrap": broker.bootstrap,
                "pid": broker.pid,
                "port": port,
                "controller_port": controller_port,
                "data_dir": str(data_dir),
                "log": str(log_path),
            },
            indent=2,
        )
        + "\n"
    )
    return broker


def stop(data_dir: Path, timeout: float = STOP_GRACE_S) -> bool:
    """Stop the broker recorded in `data_dir`/broker.json. Returns False if none was running."""
    state = _read_state(Path(data_dir))
    pid = state.get("pid")
    if not pid or not _is_kafka_pid(pid):
        return False
    _terminate(pid, timeout)
    return True


def _is_kafka_pid(pid: int) -> bool:
    """True if `pid` is alive (not a zombie) and, where /proc exists, runs kafka.Kafka."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    proc_dir = Path(f"/proc/{pid}")
    if not Path("/proc/self").exists():
        return True
    try:
        if (proc_dir / "stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
            return False
        return b"kafka.Kafka" in (proc_dir / "cmdline").read_bytes()
    except OSError:
        return False


def _terminate(pid: int, timeout: float, proc: subprocess.Popen | None = None) -> None:
    if proc is not None and proc.poll() is not None:
        return
    if proc is None and not _is_kafka_pid(pid):
        return
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (proc.poll() is not None) if proc is not None else not _is_kafka_pid(pid):
            return
        time.sleep(0.1)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    if proc is not None:
        proc.wait(10)
    else:
        for _ in range(100):
            if not _is_kafka_pid(pid):
                break
            time.sleep(0.1)


def _tail(text: str, n: int) -> str:
    return "\n".join(text.splitlines()[-n:])


def _tail_file(path: Path, n: int) -> str:
    try:
        return _tail(path.read_text(errors="replace"), n)
    except OSError as e:
        return f"(cannot read {path}: {e})"


# --------------------------------------------------------------------------- CLI


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("fetch", help="download the broker jars into the cache dir")
    p_start = sub.add_parser("start", help="start a single-node broker")
    p_start.add_argument("--port", type=int, help="client port (default: free port)")
    p_start.add_argument("--controller-port", type=int, help="controller port (default: free port)")
    p_start.add_argument("--data-dir", type=Path, help="data dir (default: a new temp dir)")
    p_start.add_argument("--foreground", action="store_true", help="stay attached; Ctrl-C stops the broker")
    p_start.add_argument("--timeout", type=float, default=120, help="readiness timeout, seconds")
    p_stop = sub.add_parser("stop", help="stop the broker recorded in DATA_DIR/broker.json")
    p_stop.add_argument("--data-dir", type=Path, required=True)
    args = parser.parse_args(argv)

    try:
        if args.command == "fetch":
            print(fetch())
            return 0
        if args.command == "stop":
            if stop(args.data_dir):
                print(f"stopped broker in {args.data_dir}")
            else:
                print(f"no running broker recorded in {args.data_dir}", file=sys.stderr)
            return 0
        data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="logloom-kafka-"))
        broker = start(data_dir, args.port, args.controller_port, args.timeout)
    except (RuntimeError, ValueError, OSError) as e:
        print(f"kafka_local: error: {e}", file=sys.stderr)
        return 1

    print(f"bootstrap={broker.bootstrap}")
    print(f"pid={broker.pid}")
    print(f"data_dir={broker.data_dir}")
    sys.stdout.flush()
    if not args.foreground:
        return 0
    # Ctrl-C / SIGTERM stop the broker (which runs in its own session, so it does not
    # get the terminal's SIGINT itself). Stop outside the signal handler: Popen.wait()
    # is not reentrant.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.default_int_handler)
    try:
        code = broker._proc.wait()
    except KeyboardInterrupt:
        print("stopping broker ...", file=sys.stderr)
        broker.stop()
        return 0
    print(f"kafka_local: broker exited with code {code}; see {broker.log_path}", file=sys.stderr)
    return code or 1


if __name__ == "__main__":
    sys.exit(main())
