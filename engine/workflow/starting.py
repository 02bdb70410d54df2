"""What a run starts with, from its row: the workflow's arguments and its typed state.

The worker's invoker and the debug-replayer (``engine.replay``) start runs the same way.
"""

from __future__ import annotations

from typing import Any

from .. import names
from ..wire.serde import from_json
from .registry import Workflow


def run_arguments(wf: Workflow, row: dict) -> dict[str, Any]:
    """The keyword arguments of the run's body; ``InputValidationError`` if its input does
    not fit them. A scheduled run's input is its ``SchedulePayload``."""
    execution_id = row["id"]
    if "@" in execution_id and names.scheduled_run_schedule(execution_id) is not None:
        return wf.binder.bind_scheduled(from_json(row["input"]))
    return wf.binder.bind(from_json(row["input"]))


def initial_state(wf: Workflow, row: dict):
    """The run's ``WorkflowState`` as it starts (``pydantic.ValidationError`` if invalid)."""
    return wf.state_schema.model_validate(from_json(row.get("initial_state")) or {})
