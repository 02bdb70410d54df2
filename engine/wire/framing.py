"""Avro single-object encoding: the framing of every journal record and Avro domain event.

The Avro specification's single-object encoding::

    C3 01 | 8-byte little-endian CRC-64-AVRO fingerprint of the writer schema | body

The fingerprint names the writer schema, so a reader can find it among the schemas it
knows and resolve the body to the schema it reads with.
"""

from __future__ import annotations

from fastavro import parse_schema
from fastavro.schema import fingerprint, to_parsing_canonical_form

MAGIC = b"\xc3\x01"
HEADER_LEN = 10  # magic and fingerprint


def header_of(schema: dict) -> bytes:
    """The 10-byte frame header of records written with ``schema`` (a raw or parsed schema)."""
    canonical = to_parsing_canonical_form(parse_schema(schema))
    # fastavro's hex string is already in the little-endian byte order the wire uses.
    return MAGIC + bytes.fromhex(fingerprint(canonical, "CRC-64-AVRO"))


def is_framed(data: bytes) -> bool:
    """Whether ``data`` starts like a single-object encoded record."""
    return data[:2] == MAGIC


def fingerprint_hex(data: bytes) -> str:
    """The writer fingerprint of a framed record, in hex (for error messages)."""
    return data[2:HEADER_LEN].hex()
