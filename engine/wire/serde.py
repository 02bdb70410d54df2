"""JSON in and out of the journal.

Values are serialised with pydantic-core, so pydantic models (``model_dump(mode="json")``
semantics), dataclasses, datetimes, UUIDs and enums work; anything else is a clear
``SerializationError``. A value read back is always the decoded JSON, on the first run
and on replay alike, so workflow code sees the same thing either way.
"""

from __future__ import annotations

from typing import Any

import orjson
import pydantic_core

from ..errors import SerializationError


def to_json(value: Any, what: str) -> str:
    """``value`` as JSON text; ``what`` names it in the error (``result of step 'charge'``)."""
    try:
        text = pydantic_core.to_json(value).decode()
    except (pydantic_core.PydanticSerializationError, TypeError, ValueError) as exc:
        raise SerializationError(f"{what} is not JSON-serialisable ({type(value).__name__}): {exc}") from exc
    if ("NaN" in text or "Infinity" in text) and not _readable(text):
        raise SerializationError(f"{what} holds NaN or Infinity, which JSON cannot carry (it would not read back)")
    return text


def _readable(text: str) -> bool:
    """Whether JSON that mentions NaN or Infinity reads back (they may be inside strings)."""
    try:
        orjson.loads(text)
    except orjson.JSONDecodeError:
        return False
    return True


def from_json(text: str | None) -> Any:
    return None if text is None else orjson.loads(text)
