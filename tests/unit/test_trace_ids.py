"""Derived trace and span ids, and when ``logloom worker`` traces (``observability.setup``)."""

import hashlib

import pytest

from engine.observability import ids
from engine.observability.setup import tracing_wanted
from engine.wire.trace_context import valid_traceparent


def test_the_trace_id_is_the_first_16_bytes_of_sha256_of_the_root_id():
    assert ids.trace_id("order-7") == int.from_bytes(hashlib.sha256(b"order-7").digest()[:16], "big")
    assert ids.format_trace_id(ids.trace_id("order-7")) == hashlib.sha256(b"order-7").hexdigest()[:32]


def test_span_ids_depend_on_the_run_and_what_the_span_is_and_nothing_else():
    assert ids.entry_span("r1", 3) == ids.entry_span("r1", 3)
    distinct = {ids.run_span("r1"), ids.entry_span("r1", 3), ids.entry_span("r1", 4), ids.attempt_span("r1", 3, 1),
                ids.entry_span("r2", 3)}  # fmt: skip
    assert len(distinct) == 5
    assert all(0 < span < 2**64 for span in distinct)


@pytest.mark.parametrize(
    ("flag", "env", "wanted"),
    [
        (False, {}, False),
        (True, {}, True),
        (False, {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, True),
        (False, {"OTEL_TRACES_EXPORTER": "console"}, True),
        (False, {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_TRACES_EXPORTER": "none"}, False),
        (True, {"OTEL_SDK_DISABLED": "true"}, False),
        (False, {"OTEL_SERVICE_NAME": "orders"}, False),  # a name alone asks for nothing
    ],
)
def test_tracing_is_on_by_flag_or_by_the_otel_variables(flag, env, wanted):
    assert tracing_wanted(flag, env) is wanted


def test_a_malformed_traceparent_is_dropped_not_recorded():
    good = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    assert valid_traceparent(good) == good
    assert valid_traceparent(good.upper()) == good
    for bad in (None, "", "garbage", good[:-1], "ff" + good[2:], "00-" + "0" * 32 + "-00f067aa0ba902b7-01"):
        assert valid_traceparent(bad) is None
