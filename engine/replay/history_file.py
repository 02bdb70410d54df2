"""The history file: one execution's records, exported for audit and debug-replay.

``logloom history ID --output json`` writes it, and ``logloom history export`` writes one
per run. ``Replayer`` and ``logloom replay run`` read it. The format is versioned: a
reader refuses a file from a newer version rather than misread it. Version 1::

    {"format": "logloom-history", "version": 1,
     "execution_id": "order-7", "workflow": "checkout", "status": "failed",
     "namespace": "default", "exported_at": "2026-11-27T06:00:00+00:00", "engine": "0.1.0",
     "records": [
        {"partition": 3, "offset": 1812, "type": "StepCompleted", "at": "2026-11-27T05:59:58.120000+00:00",
         "schema_fingerprint": "9f0c4e2a1b3d5c7e", "outcome": "applied",
         "fields": {"execution_id": "order-7", "epoch": 2, "seq": 1, "key": "charge", "attempt": 1,
                    "result": {"charged": 42}, "state": null}}, ...],
     "children": [<a history file of each child run, with --with-children>]}

* ``records``: in log order, every record of the execution, and the partition claims
  among them (they set the epochs the fold checks). ``fields`` is the record as Avro
  decoded it, except ``type`` and ``at``; its payloads (``input``, ``result``, ``data``,
  ``state``, ``initial_state``, ``value``) are decoded from their JSON text.
* ``schema_fingerprint``: the CRC-64-AVRO fingerprint of the Avro schema the record was written with.
* ``outcome``: ``applied``, or why the fold ignored the record (``fenced: ...``).

Adding a key is not a new version; changing or removing one is.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import orjson
from pydantic import BaseModel, ValidationError

from ..client.models import PAYLOAD_FIELDS, HistoryRecord
from ..errors import HistoryFileError
from ..wire.serde import to_json

FORMAT = "logloom-history"
VERSION = 1


class RecordedRecord(BaseModel):
    partition: int
    offset: int
    type: str
    at: datetime
    schema_fingerprint: str | None = None
    outcome: str = "applied"
    fields: dict[str, Any]

    def record(self) -> dict:
        """The record as the fold takes it: payloads as JSON text again, ``at`` in ms."""
        fields = {
            k: to_json(v, k) if k in PAYLOAD_FIELDS and v is not None else v for k, v in self.fields.items()
        }  # fmt: skip
        return {"type": self.type, "at": round(self.at.timestamp() * 1000), **fields}


class HistoryFile(BaseModel):
    """One execution's history, as exported (the module's docstring has the format)."""

    format: str = FORMAT
    version: int = VERSION
    execution_id: str
    workflow: str | None = None
    status: str | None = None
    namespace: str | None = None
    exported_at: datetime | None = None
    engine: str | None = None
    records: list[RecordedRecord]
    children: list[HistoryFile] = []

    def document(self) -> dict:
        """The JSON-ready document."""
        return self.model_dump(mode="json")

    def dumps(self) -> bytes:
        return orjson.dumps(self.document(), option=orjson.OPT_INDENT_2) + b"\n"

    def child(self, execution_id: str) -> HistoryFile | None:
        return next((c for c in self.children if c.execution_id == execution_id), None)


def engine_version() -> str:
    """The installed logloom's version ("unknown" in a source tree that is not installed)."""
    try:
        return version("logloom")
    except PackageNotFoundError:
        return "unknown"


def from_records(
    execution_id: str,
    records: list[HistoryRecord],
    *,
    workflow: str | None = None,
    status: str | None = None,
    namespace: str | None = None,
) -> HistoryFile:
    """A history file of ``records`` (``Client.history``), exported now."""
    return HistoryFile(
        execution_id=execution_id,
        workflow=workflow,
        status=status,
        namespace=namespace,
        exported_at=datetime.now(UTC),
        engine=engine_version(),
        records=[
            RecordedRecord(
                partition=r.partition,
                offset=r.offset,
                type=r.type,
                at=r.at,
                schema_fingerprint=r.schema_fingerprint,
                outcome=r.outcome,
                fields=r.payloads_decoded(),
            )
            for r in records
        ],
    )


def loads(data: bytes | str, source: str = "the history") -> HistoryFile:
    """Parse a history file; ``HistoryFileError`` says what is wrong with it."""
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise HistoryFileError(f"{source} is not JSON (truncated or corrupt?): {exc}") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise HistoryFileError(f'{source} is not a Logloom history file (no "format": {FORMAT!r})')
    found = doc.get("version")
    if not isinstance(found, int) or found > VERSION:
        raise HistoryFileError(
            f"{source} is history format version {found!r}; this Logloom reads up to version {VERSION}: upgrade it"
        )
    try:
        return HistoryFile.model_validate(doc)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise HistoryFileError(f"{source} is not a valid history file: {where}: {first['msg']}") from None


def load(path: str | os.PathLike) -> HistoryFile:
    """Read a history file from ``path``."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise HistoryFileError(f"cannot read {path}: {exc.strerror}") from None
    return loads(data, source=str(path))
