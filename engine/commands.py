"""Command records: what clients and the router append (epoch 0, never fenced).

One builder per command keeps every writer in step with its Avro schema.
"""

from __future__ import annotations

import time


def invocation(execution_id: str, workflow: str, input_json: str, *, user_id: str | None = None,
               session_id: str | None = None, run_timeout_ms: int | None = None,
               initial_state: str | None = None, parent_execution_id: str | None = None,
               root_execution_id: str | None = None, parent_seq: int | None = None,
               reply_key: str | None = None, at: int | None = None) -> dict:
    """The fields of ``InvocationRequested``."""
    return {"execution_id": execution_id, "epoch": 0, "at": at or int(time.time() * 1000), "workflow": workflow,
            "input": input_json, "user_id": user_id, "session_id": session_id,
            "parent_execution_id": parent_execution_id, "root_execution_id": root_execution_id,
            "run_timeout_ms": run_timeout_ms, "initial_state": initial_state, "parent_seq": parent_seq,
            "reply_key": reply_key}
