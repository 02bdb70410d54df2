"""Child workflows from inside a workflow: ``ctx.step.invoke`` and friends.

A child is a step of its parent. Its id is ``<parent id>:<step key>``
(``names.child_execution_id``), so a replay asks for the same child; ``ChildInvoked``
records it at the step's position, and the fold and the messenger (``fold/children.py``,
``runtime/messenger.py``) start it on its own partition and bring its end back to the
parent's partition as ``ChildFinished``. A parent waiting for children is parked like any
other wait: evicted, it holds no memory.

Children inherit the parent's ``session_id`` and ``user_id``; they record the parent's id
and the root of the call tree.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from typing import Any, Protocol

from .. import names
from ..errors import InputValidationError, StepExecutionError
from ..fold.rows import EntryStatus
from ..wire import records
from ..wire.serde import from_json, to_json
from .queues import Queue
from .registry import Workflow
from .state import dump_state
from .steps import StepRunner


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
    queue: Queue | None = None  # else the workflow's own (@workflow(queue=...))
    concurrency_key: str | None = None
    priority: int = 0


@dataclass(frozen=True)
class BatchStepResult:
    """One child's outcome in ``batch_invoke_and_wait``, in input order."""

    workflow_id: str
    execution_id: str
    success: bool
    result: Any = None
    error: str | None = None


class ChildInvocation(Protocol):
    """A workflow with its input, that turns the child's result into a value of its own
    (``Agent.with_input(...)`` is one: its result is an ``AgentResult``)."""

    @property
    def workflow(self) -> Workflow: ...

    @property
    def payload(self) -> Any: ...

    def result_from(self, value: Any, execution_id: str | None = None) -> Any: ...


class ChildSteps:
    """The child-workflow half of ``ctx.step`` (``StepApi`` delegates to it)."""

    __slots__ = ("_steps",)

    def __init__(self, steps: StepRunner):
        self._steps = steps

    async def invoke(
        self,
        name: str,
        workflow: Workflow | str,
        payload: Any = None,
        initial_state: Any = None,
        run_timeout_seconds: float | None = None,
        **queueing: Any,
    ) -> ChildHandle:
        key = self._steps.keys.explicit(name)
        handle = await self._child(
            key, BatchWorkflowInput(workflow, payload, initial_state, run_timeout_seconds, **queueing), wait=False
        )
        return ChildHandle(handle["execution_id"], handle["workflow"])

    async def invoke_and_wait(
        self,
        name: str,
        workflow: Workflow | str,
        payload: Any = None,
        initial_state: Any = None,
        run_timeout_seconds: float | None = None,
        **queueing: Any,
    ) -> Any:
        key = self._steps.keys.explicit(name)
        return await self._child(
            key, BatchWorkflowInput(workflow, payload, initial_state, run_timeout_seconds, **queueing), wait=True
        )

    async def batch_invoke(self, name: str, workflows: list[BatchWorkflowInput]) -> list[ChildHandle]:
        calls = self._reserve(name, workflows, wait=False)
        handles = await asyncio.gather(*(call() for call in calls))
        return [ChildHandle(h["execution_id"], h["workflow"]) for h in handles]

    async def batch_invoke_and_wait(self, name: str, workflows: list[BatchWorkflowInput]) -> list[BatchStepResult]:
        calls = self._reserve(name, workflows, wait=True)
        outcomes = await asyncio.gather(*(call() for call in calls), return_exceptions=True)
        results = []
        for i, (child_input, outcome) in enumerate(zip(workflows, outcomes)):
            if isinstance(outcome, BaseException) and not isinstance(outcome, StepExecutionError):
                raise outcome  # engine signals and cancellation are not child failures
            workflow = workflow_name(child_input.id)
            child_id = names.child_execution_id(self._steps.execution_id, f"{name}[{i}]")
            if isinstance(outcome, StepExecutionError):
                results.append(BatchStepResult(workflow, child_id, False, error=str(outcome)))
            else:
                results.append(BatchStepResult(workflow, child_id, True, result=outcome))
        return results

    # -- agents and other invocations that bring their own result type ----------------

    async def invocation_and_wait(self, name: str, invocation: ChildInvocation) -> Any:
        value = await self.invoke_and_wait(name, invocation.workflow, invocation.payload)
        return invocation.result_from(value, names.child_execution_id(self._steps.execution_id, name))

    async def batch_invocations_and_wait(self, name: str, invocations: list[ChildInvocation]) -> list[BatchStepResult]:
        inputs = [BatchWorkflowInput(i.workflow, i.payload) for i in invocations]
        results = await self.batch_invoke_and_wait(name, inputs)
        return [
            r if not r.success else replace(r, result=i.result_from(r.result, r.execution_id))
            for r, i in zip(results, invocations)
        ]

    # -- the step protocol for a child -------------------------------------------------

    def _reserve(self, name: str, workflows: list[BatchWorkflowInput], wait: bool):
        """Positions for every child, taken now in input order (so replay matches)."""
        self._steps.keys.explicit(name)
        calls = []
        for i, child in enumerate(workflows):
            seq = self._steps.run.next_seq()
            calls.append(lambda key=f"{name}[{i}]", child=child, seq=seq: self._child(key, child, wait, seq))
        return calls

    async def _child(self, key: str, child: BatchWorkflowInput, wait: bool, seq: int | None = None) -> Any:
        entry = await self._steps.entry(
            key, records.child_invoked, lambda: dict(self._fields(key, child), wait=wait), seq
        )
        if entry["status"] == EntryStatus.COMPLETED:
            return from_json(entry["result"])
        # the child's error, whatever its kind: a failed step of the parent
        raise self._steps.failed_step(key, entry["error"])

    def _fields(self, key: str, child: BatchWorkflowInput) -> dict:
        """The child's id, workflow, input and state; bad input raises before anything is recorded."""
        child_id = names.child_execution_id(self._steps.execution_id, key)
        workflow = child.id
        if isinstance(workflow, str):
            workflow = self._steps.run.registry.workflows.get(workflow, workflow)
        state = child.initial_state
        if isinstance(workflow, Workflow):  # InputValidationError names the workflow and the field
            state = workflow.check_input(child.payload, state, f"child {child_id}")
        timeout_s = child.run_timeout_seconds
        on_queue = child.queue or (workflow.queue if isinstance(workflow, Workflow) else None)
        if on_queue is None and (child.concurrency_key is not None or child.priority):
            raise InputValidationError(f"child {child_id}: concurrency_key and priority need a queue")
        if on_queue is not None and self._steps.run.row.get("session_id"):
            raise InputValidationError(f"child {child_id}: a run cannot be in a session and on a queue")
        return {
            "child_execution_id": child_id,
            "workflow": workflow_name(workflow),
            "input": to_json(child.payload, f"input of child {child_id}"),
            "initial_state": None if state is None else dump_state(state, child_id),
            "run_timeout_ms": None if timeout_s is None else int(timeout_s * 1000),
            "queue": None if on_queue is None else on_queue.request(child.concurrency_key, child.priority),
        }


def workflow_name(workflow: Workflow | str) -> str:
    return workflow.name if isinstance(workflow, Workflow) else workflow
