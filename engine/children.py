"""Child workflows from inside a workflow: ``ctx.step.invoke`` and friends.

A child is a step of its parent. Its id is ``<parent id>:<step key>``, so a replay asks
for the same child; ``ChildInvoked`` records it at the step's position, and the fold and
the messenger (``fold_children.py``, ``messenger.py``) start it on its own partition and
bring its end back to the parent's partition as ``ChildFinished``. A parent waiting for
children is parked like any other wait: evicted, it holds no memory.

Children inherit the parent's ``session_id`` and ``user_id``; they record the parent's id
and the root of the call tree.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from .errors import InputValidationError, StepExecutionError
from .registry import Workflow
from .serde import from_json, to_json
from .state import dump_state

if TYPE_CHECKING:
    from .context import StepApi


@dataclass(frozen=True)
class ChildHandle:
    """What ``ctx.step.invoke`` returns: the started child's execution id and workflow."""

    execution_id: str
    workflow_id: str

    @property
    def id(self) -> str:
        return self.execution_id


@dataclass
class BatchWorkflowInput:
    """One child of ``batch_invoke``: ``id`` is the workflow (its name or the workflow object)."""

    id: str | Workflow
    payload: Any = None
    initial_state: Any = None
    run_timeout_seconds: float | None = None


@dataclass(frozen=True)
class BatchStepResult:
    """One child's outcome in ``batch_invoke_and_wait``, in input order."""

    workflow_id: str
    execution_id: str
    success: bool
    result: Any = None
    error: str | None = None


class ChildSteps:
    """The child-workflow half of ``ctx.step`` (mixed into ``StepApi``)."""

    async def invoke(self: "StepApi", name: str, workflow: Workflow | str, payload: Any = None,
                     initial_state: Any = None, run_timeout_seconds: float | None = None) -> ChildHandle:
        """Start ``workflow`` as a child, as the step ``name``; returns its handle once recorded."""
        key = self._explicit(name)
        handle = await self._child(key, BatchWorkflowInput(workflow, payload, initial_state, run_timeout_seconds),
                                   wait=False)
        return ChildHandle(handle["execution_id"], handle["workflow"])

    async def invoke_and_wait(self: "StepApi", name: str, workflow: Workflow | str, payload: Any = None,
                              initial_state: Any = None, run_timeout_seconds: float | None = None) -> Any:
        """Run ``workflow`` as a child and return its result; a failed child raises ``StepExecutionError``."""
        key = self._explicit(name)
        return await self._child(key, BatchWorkflowInput(workflow, payload, initial_state, run_timeout_seconds),
                                 wait=True)

    async def batch_invoke(self: "StepApi", name: str, workflows: list[BatchWorkflowInput]) -> list[ChildHandle]:
        """Start many children (``name[0]``, ``name[1]``...) at once; their handles in input order."""
        calls = self._reserve_children(name, workflows, wait=False)
        handles = await asyncio.gather(*(call() for call in calls))
        return [ChildHandle(h["execution_id"], h["workflow"]) for h in handles]

    async def batch_invoke_and_wait(self: "StepApi", name: str,
                                    workflows: list[BatchWorkflowInput]) -> list[BatchStepResult]:
        """Start many children and wait for all; one ``BatchStepResult`` per child, in input order."""
        calls = self._reserve_children(name, workflows, wait=True)
        outcomes = await asyncio.gather(*(call() for call in calls), return_exceptions=True)
        results = []
        for i, (child_input, outcome) in enumerate(zip(workflows, outcomes)):
            if isinstance(outcome, BaseException) and not isinstance(outcome, StepExecutionError):
                raise outcome  # engine signals and cancellation are not child failures
            workflow = _workflow_name(child_input.id)
            child_id = self._child_id(f"{name}[{i}]")
            if isinstance(outcome, StepExecutionError):
                results.append(BatchStepResult(workflow, child_id, False, error=str(outcome)))
            else:
                results.append(BatchStepResult(workflow, child_id, True, result=outcome))
        return results

    # -- the step protocol for a child -------------------------------------------------

    def _child_id(self: "StepApi", key: str) -> str:
        return f"{self._ctx.execution_id}:{key}"

    def _reserve_children(self: "StepApi", name: str, workflows: list[BatchWorkflowInput], wait: bool):
        """Positions for every child, taken now in input order (so replay matches)."""
        self._explicit(name)
        calls = []
        for i, child in enumerate(workflows):
            seq = self._run.next_seq()
            calls.append(lambda key=f"{name}[{i}]", child=child, seq=seq: self._child(key, child, wait, seq))
        return calls

    async def _child(self: "StepApi", key: str, child: BatchWorkflowInput, wait: bool, seq: int | None = None) -> Any:
        entry = await self._entry(key, "ChildInvoked", lambda: dict(self._child_fields(key, child), wait=wait), seq)
        if entry["status"] == "completed":
            return from_json(entry["result"])
        error = entry["error"]  # the child's error, whatever its kind: a failed step of the parent
        raise StepExecutionError(f"step {key!r} failed: {error['type']}: {error['message']}", step=key,
                                 error_type=error["type"], cause_code=error["code"],
                                 execution_id=self._ctx.execution_id)

    def _child_fields(self: "StepApi", key: str, child: BatchWorkflowInput) -> dict:
        """The child's id, workflow, input and state; bad input raises before anything is recorded."""
        child_id = self._child_id(key)
        workflow = child.id
        if isinstance(workflow, str):
            workflow = self._run.processor.invoker.registry.workflows.get(workflow, workflow)
        state = child.initial_state
        if isinstance(workflow, Workflow):
            workflow.binder.bind(child.payload)  # InputValidationError names the workflow and the field
            if state is not None:
                try:
                    state = workflow.state_schema.model_validate(state)
                except ValidationError as exc:
                    raise InputValidationError(f"invalid initial state for child {child_id}: {exc}") from exc
        timeout = child.run_timeout_seconds
        return {"child_execution_id": child_id, "workflow": _workflow_name(workflow),
                "input": to_json(child.payload, f"input of child {child_id}"),
                "initial_state": None if state is None else dump_state(state, child_id),
                "run_timeout_ms": None if timeout is None else int(timeout * 1000)}


def _workflow_name(workflow: Workflow | str) -> str:
    return workflow.name if isinstance(workflow, Workflow) else workflow
