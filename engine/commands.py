"""Command records: what clients and the router append (epoch 0, never fenced).

One builder per command keeps every writer in step with its Avro schema.
"""

from __future__ import annotations

import time


def invocation(execution_id: str, workflow: str, input_json: str, *, user_id: str | None = None,
               session_id: str | None = None, run_timeout_ms: int | None = None,
               initial_state: str | None = None) -> dict:
    """The fields of ``InvocationRequested``."""
    return {"execution_id": execution_id, "epoch": 0, "at": int(time.time() * 1000), "workflow": workflow,
            "input": input_json, "user_id": user_id, "session_id": session_id, "parent_execution_id": None,
            "root_execution_id": None, "run_timeout_ms": run_timeout_ms, "initial_state": initial_state}
