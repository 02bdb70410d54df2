"""``Tracing``: the interceptor that turns the records a worker folds into OpenTelemetry spans."""

from __future__ import annotations

import logging

from ..workflow.interceptors import FoldedRecord
from .model import StepStarts, spans_of

log = logging.getLogger(__name__)


class Tracing:
    """A workflow hook (``Worker(log, interceptors=[Tracing()])``).

    1. For each record folded live, the span model (``model.spans_of``) says which spans
       it ends, with ids derived from the journal (``ids``) and times from the records.
    2. Each is built as a finished SDK span (``export.readable_span``) and handed to the
       span processor, which exports it in batches off the event loop.

    ``span_processor``: where spans go; by default a batch processor over the exporter
    the standard ``OTEL_*`` variables configure (``export.processor_from_env``).
    """

    def __init__(self, span_processor=None, resource=None):
        from . import export  # the otel extra, imported only when tracing is on

        self._export = export
        self.processor = span_processor if span_processor is not None else export.processor_from_env()
        self.resource = resource if resource is not None else export.resource_from_env()
        self.starts = StepStarts()
        self.spans_made = 0

    def on_record(self, folded: FoldedRecord) -> None:
        if self.processor is None:
            return
        for spec in spans_of(folded, self.starts):
            self.processor.on_end(self._export.readable_span(spec, self.resource))
            self.spans_made += 1

    def shutdown(self) -> None:
        """Export what is queued, then stop (a worker's host calls it on the way out)."""
        if self.processor is not None:
            self.processor.shutdown()

    def force_flush(self, timeout_ms: int = 30_000) -> bool:
        return self.processor is None or self.processor.force_flush(timeout_ms)
