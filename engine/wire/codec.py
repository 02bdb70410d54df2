"""Avro codec for journal records, framed with single-object encoding (``framing.py``).

The frame's fingerprint names the writer schema, so a reader can decode records written
by any released schema version and resolve them to the current one. Schemas live in
``schemas/*.avsc`` (current) and ``schemas/released/<version>/*.avsc`` (history).

Records are plain dicts with a ``"type"`` key naming the record type (``records.py``
builds them). Timestamps are integer milliseconds since the epoch (the
``timestamp-millis`` logical type is kept in the schema files but not converted on the
hot path).
"""

from __future__ import annotations

import io
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from fastavro import parse_schema, schemaless_reader, schemaless_writer

from ..errors import SchemaError
from .framing import HEADER_LEN, fingerprint_hex, header_of, is_framed


def schemas_dir() -> Path:
    """Where the .avsc files are: inside the installed package, or the source tree."""
    package = Path(__file__).resolve().parents[1]
    for candidate in (package / "schemas", package.parent / "schemas"):
        if candidate.is_dir():
            return candidate
    raise SchemaError("schemas directory not found next to the engine package")


def _strip_logical_types(node: Any) -> Any:
    """The same schema with logical types removed: identical bytes, plain ints on read."""
    if isinstance(node, dict):
        return {k: _strip_logical_types(v) for k, v in node.items() if k != "logicalType"}
    if isinstance(node, list):
        return [_strip_logical_types(v) for v in node]
    return node


class _Schema:
    __slots__ = ("name", "parsed", "header")

    def __init__(self, raw: dict):
        self.name: str = raw["name"]
        self.header = header_of(raw)
        self.parsed = parse_schema(_strip_logical_types(raw))


class Codec:
    """Encodes and decodes journal records; knows every released writer schema."""

    def __init__(self, directory: Path | None = None):
        directory = directory or schemas_dir()
        self._current: dict[str, _Schema] = {}
        self._writers: dict[bytes, _Schema] = {}  # header -> writer schema
        for path in sorted(directory.glob("*.avsc")):
            schema = _Schema(json.loads(path.read_text()))
            self._current[schema.name] = schema
            self._writers[schema.header] = schema
        released = directory / "released"
        for path in sorted(released.glob("*/*.avsc")) if released.is_dir() else []:
            schema = _Schema(json.loads(path.read_text()))
            self._writers.setdefault(schema.header, schema)
        if not self._current:
            raise SchemaError(f"no schemas found in {directory}")

    @property
    def types(self) -> list[str]:
        return sorted(self._current)

    def encode(self, record: dict) -> bytes:
        """Frame and write a record (a dict with a ``type`` key, as ``records.py`` builds it)."""
        schema = self._current.get(record["type"])
        if schema is None:
            raise SchemaError(f"unknown record type {record['type']!r}")
        out = io.BytesIO()
        out.write(schema.header)
        schemaless_writer(out, schema.parsed, record)
        return out.getvalue()

    def type_of(self, data: bytes) -> str | None:
        """The record type from the header alone, without decoding the body."""
        schema = self._writers.get(data[:HEADER_LEN])
        return schema.name if schema else None

    def decode(self, data: bytes) -> dict:
        """Decode one record into a dict with a ``type`` key; raises SchemaError."""
        writer = self._writers.get(data[:HEADER_LEN])
        if writer is None:
            if not is_framed(data):
                raise SchemaError("not an Avro single-object encoded record")
            raise SchemaError(f"unknown schema fingerprint {fingerprint_hex(data)}")
        reader = self._current.get(writer.name)
        try:
            record = schemaless_reader(
                io.BytesIO(data[HEADER_LEN:]),
                writer.parsed,
                reader.parsed if reader is not None and reader is not writer else None,
            )
        except Exception as exc:  # fastavro raises several types on bad bytes
            raise SchemaError(f"malformed {writer.name} record: {exc}") from exc
        record["type"] = writer.name
        return record


@lru_cache(maxsize=1)
def default_codec() -> Codec:
    return Codec()
