"""The embedded log's local API: other processes on the machine append and read through it.

RocksDB admits one process per database, so the process that opened an ``EmbeddedLog``
(usually ``logloom run`` or ``logloom worker``) serves it on a unix socket beside it,
``<data-dir>/<namespace>/log.sock`` (mode 0600; in the temp dir if that path is too
long). ``RemoteEmbeddedLog`` is a ``Log`` over that socket, so ``Client`` and the CLI
work unchanged from a second shell: invoke, resume, publish, wait for results, read
history. It cannot host a worker: the owner
process is the one worker of an embedded log.

Protocol: one JSON object per line each way, request then response, on one connection.
Keys and values travel base64-encoded.

    {"op": "meta"}                                        -> {"partitions": N, "members": [WORKER_ID]}
    {"op": "committed", "g": GROUP, "t": TOPIC}           -> {"offsets": {"P": O}}
    {"op": "append", "p": P, "k": K, "v": V}              -> {"offset": O}
    {"op": "end", "p": P}                                 -> {"end": O}
    {"op": "publish", "t": TOPIC, "k": K|null, "v": V}    -> {"partition": P, "offset": O}
    {"op": "read", "cursors": {"P": O}, "wait": S, "t": TOPIC|absent}
                                                          -> {"entries": [[P, O, K, V, TS], ...]}
    {"op": "topic", "t": TOPIC}                           -> {"partitions": N}  (0: no such topic)
    {"op": "offset_for_time", "t": TOPIC, "p": P, "ts": MS} -> {"offset": O}
    any failure                                           -> {"error": "message"}

``read`` returns what is durable past the cursors, waiting up to ``wait`` seconds for it;
about ``READ_BYTES`` at most (at least one record), and the next read goes on from there.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import tempfile
from pathlib import Path

from .. import names
from ..errors import LogloomError
from .base import Entry, Log, PartitionListener, Reader, Subscription

_b64 = lambda data: base64.b64encode(data).decode()  # noqa: E731
_unb64 = base64.b64decode
# Longest line a stream buffers: one record of the largest size, base64-encoded, fits.
LIMIT = 2 * names.MAX_RECORD_BYTES
READ_BYTES = 2**20  # a read answers with about this much (always at least one record); the cursor goes on


def socket_path(log_path: Path) -> Path:
    """``log.sock`` beside the log; in the temp dir when that path is too long for AF_UNIX."""
    beside = log_path.resolve().parent / "log.sock"
    if len(str(beside)) < 100:
        return beside
    digest = hashlib.sha1(str(beside).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"logloom-{digest}.sock"


class LocalApiServer:
    """Serves an open EmbeddedLog on its unix socket."""

    def __init__(self, log, path: Path):
        self.log = log
        self.path = path
        self._server: asyncio.AbstractServer | None = None

    async def start(self) -> None:
        self.path.unlink(missing_ok=True)  # a stale socket: we hold the RocksDB lock, so nobody serves it
        self._server = await asyncio.start_unix_server(self._serve, path=str(self.path), limit=LIMIT)
        os.chmod(self.path, 0o600)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        self.path.unlink(missing_ok=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        watch = self.log.watch()
        try:
            while line := await reader.readline():
                try:
                    response = await self._handle(json.loads(line), watch)
                except Exception as exc:  # report, keep serving
                    response = {"error": f"{type(exc).__name__}: {exc}"}
                writer.write(json.dumps(response).encode() + b"\n")
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self.log.unwatch(watch)
            writer.close()

    async def _handle(self, request: dict, watch) -> dict:
        op, log = request["op"], self.log
        if op == "meta":
            return {"partitions": log.num_partitions, "members": await log.members()}
        if op == "committed":
            offsets = await log.committed(request["g"], request["t"])
            return {"offsets": {str(p): o for p, o in offsets.items()}}
        if op == "append":
            return {"offset": await log.append(request["p"], _unb64(request["k"]), _unb64(request["v"]))}
        if op == "end":
            return {"end": await log.end_offset(request["p"])}
        if op == "publish":
            key = None if request["k"] is None else _unb64(request["k"])
            partition, offset = await log.publish(request["t"], key, _unb64(request["v"]))
            return {"partition": partition, "offset": offset}
        if op == "read":
            cursors = {int(p): o for p, o in request["cursors"].items()}
            topic = request.get("t") or ""  # "": the journal
            watch.clear()
            entries = self._read(cursors, topic)
            if not entries and request.get("wait", 0) > 0:
                await watch.wait(request["wait"])
                entries = self._read(cursors, topic)
            return {"entries": [[e.partition, e.offset, _b64(e.key), _b64(e.value), e.timestamp] for e in entries]}
        if op == "topic":
            return {"partitions": await log.topic_partitions(request["t"])}
        if op == "offset_for_time":
            return {"offset": await log.offset_for_time(request["t"], request["p"], request["ts"])}
        raise LogloomError(f"unknown op {op!r}")

    def _read(self, cursors: dict[int, int], topic: str) -> list[Entry]:
        out: list[Entry] = []
        size = 0
        for partition, offset in cursors.items():
            for entry in self.log.read(partition, offset, topic=topic):
                if out and size + len(entry.value) + len(entry.key) > READ_BYTES:
                    return out  # the rest comes with the next read
                out.append(entry)
                size += len(entry.value) + len(entry.key)
        return out


class _Connection:
    """One request at a time over one socket connection."""

    def __init__(self, path: Path):
        self.path = path
        self._streams = None
        self._lock = asyncio.Lock()

    async def call(self, **request) -> dict:
        async with self._lock:
            if self._streams is None:
                try:
                    self._streams = await asyncio.open_unix_connection(str(self.path), limit=LIMIT)
                except OSError as exc:
                    raise LogloomError(
                        f"the embedded log is in use, but its local API at {self.path} does not answer ({exc})"
                    ) from exc
            reader, writer = self._streams
            writer.write(json.dumps(request).encode() + b"\n")
            await writer.drain()
            line = await reader.readline()
        if not line:
            raise LogloomError(f"the process serving {self.path} went away")
        response = json.loads(line)
        if "error" in response:
            raise LogloomError(f"embedded log API: {response['error']}")
        return response

    async def close(self) -> None:
        if self._streams is not None:
            self._streams[1].close()
            self._streams = None


class RemoteEmbeddedLog(Log):
    """An embedded log owned by another process on this machine, through its local API."""

    def __init__(self, log_path: Path, namespace: str):
        self.namespace = namespace
        self.num_partitions = 0
        self.path = socket_path(log_path)
        self._connection = _Connection(self.path)

    async def start(self) -> None:
        self.num_partitions = (await self._connection.call(op="meta"))["partitions"]

    async def members(self) -> list[str] | None:
        return (await self._connection.call(op="meta")).get("members")

    async def close(self) -> None:
        await self._connection.close()

    def append(self, partition: int, key: bytes, value: bytes) -> asyncio.Future[int]:
        async def call() -> int:
            return (await self._connection.call(op="append", p=partition, k=_b64(key), v=_b64(value)))["offset"]

        return asyncio.ensure_future(call())

    async def end_offset(self, partition: int) -> int:
        return (await self._connection.call(op="end", p=partition))["end"]

    def subscribe(self, listener: PartitionListener, member: str | None = None) -> Subscription:
        raise LogloomError(
            "a worker cannot run on an embedded log owned by another process; "
            "stop that process, or use Kafka for several workers"
        )

    def reader(self) -> Reader:
        return _RemoteReader(self.path)

    async def publish(self, topic: str, key: bytes | None, value: bytes) -> tuple[int, int]:
        response = await self._connection.call(
            op="publish", t=topic, k=None if key is None else _b64(key), v=_b64(value)
        )
        return response["partition"], response["offset"]

    def _owner_only(self, what: str):
        raise LogloomError(f"{what} is done by the process that owns the embedded log")

    async def ensure_topic(self, topic: str, partitions: int = 1) -> int:
        self._owner_only("creating topics")

    def topic_reader(self, topic: str) -> Reader:
        return _RemoteReader(self.path, topic)

    async def topic_partitions(self, topic: str) -> int:
        return (await self._connection.call(op="topic", t=topic))["partitions"]

    async def offset_for_time(self, topic: str, partition: int, timestamp: int) -> int:
        return (await self._connection.call(op="offset_for_time", t=topic, p=partition, ts=timestamp))["offset"]

    async def committed(self, group: str, topic: str) -> dict[int, int]:
        offsets = (await self._connection.call(op="committed", g=group, t=topic))["offsets"]
        return {int(p): o for p, o in offsets.items()}

    async def commit(self, group: str, topic: str, offsets: dict[int, int]) -> None:
        self._owner_only("committing consumer offsets")


class _RemoteReader(Reader):
    def __init__(self, path: Path, topic: str | None = None):
        self._connection = _Connection(path)  # its own connection: reads long-poll
        self._cursors: dict[int, int] = {}
        self._topic = topic  # None: the journal

    def assign(self, partition: int, offset: int) -> None:
        self._cursors[partition] = offset

    async def poll(self, timeout_s: float) -> list[Entry]:
        if not self._cursors:
            await asyncio.sleep(timeout_s)
            return []
        response = await self._connection.call(op="read", cursors=self._cursors, wait=timeout_s, t=self._topic)
        out = []
        for partition, offset, key, value, ts in response["entries"]:
            out.append(Entry(partition, offset, _unb64(key), _unb64(value), ts))
            self._cursors[partition] = max(self._cursors.get(partition, 0), offset + 1)
        return out

    async def close(self) -> None:
        await self._connection.close()
