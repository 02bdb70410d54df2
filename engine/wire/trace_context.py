"""W3C trace context (``traceparent``) as the journal records it: checked once, at the edge."""

from __future__ import annotations

HEADER = "traceparent"
_HEX = frozenset("0123456789abcdef")


def valid_traceparent(value: str | bytes | None) -> str | None:
    """A W3C ``traceparent`` (``00-<32 hex>-<16 hex>-<2 hex>``, lower case), or None for none
    or a malformed one: a caller's bad header must not fail its invocation."""
    if not value:
        return None
    if isinstance(value, bytes):
        value = value.decode("ascii", errors="replace")
    value = value.strip().lower()
    parts = value.split("-")
    if len(parts) != 4 or [len(p) for p in parts] != [2, 32, 16, 2] or parts[0] == "ff":
        return None
    if not _HEX.issuperset(value.replace("-", "")):
        return None
    if parts[1] == "0" * 32 or parts[2] == "0" * 16:
        return None
    return value
