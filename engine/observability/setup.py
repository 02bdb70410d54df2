"""When ``logloom worker`` traces: the ``--otel`` flag, or the standard ``OTEL_*`` variables.

1. ``OTEL_SDK_DISABLED=true`` turns tracing off, whatever else is set (the SDK's rule).
2. ``--otel`` turns it on; without the ``otel`` extra that is an error.
3. Without the flag, it is on when the extra is installed and the environment asks for
   traces: ``OTEL_TRACES_EXPORTER`` names an exporter other than ``none``, or an OTLP
   endpoint is set (``OTEL_EXPORTER_OTLP_ENDPOINT``, ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``).
   With neither, it stays off: a worker never sends spans to a default address nobody set.
"""

from __future__ import annotations

import importlib.util
import os

from ..errors import LogloomError

ASKING = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")


class OtelMissingError(LogloomError):
    """``--otel`` without the ``otel`` extra installed."""


def extra_installed() -> bool:
    return importlib.util.find_spec("opentelemetry.sdk") is not None


def tracing_wanted(flag: bool, env=os.environ) -> bool:
    """Steps 1-3: whether this worker traces."""
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    if flag:
        if not extra_installed():
            raise OtelMissingError("--otel needs the otel extra: pip install 'logloom[otel]'")
        return True
    exporter = env.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    asked = (exporter not in ("", "none")) or any(env.get(name) for name in ASKING)
    return asked and exporter != "none" and extra_installed()


def tracing_from_env(flag: bool = False):
    """A ``Tracing`` configured by the ``OTEL_*`` variables, or None when not wanted."""
    if not tracing_wanted(flag):
        return None
    from .tracing import Tracing

    return Tracing()
