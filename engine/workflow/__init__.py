"""What user code touches: ``@workflow``, ``@function``, ``WorkflowContext`` and the step API.

This layer never imports the runtime. It decides what each step call does (replay, run
or park: ``journal.decide``) and asks a runtime, through the port in ``port.py``, to
append records and wait for them.
"""

from .binding import Binder
from .children import BatchStepResult, BatchWorkflowInput, ChildHandle
from .context import BatchResult, BatchStats, WorkflowContext
from .journal import Journal
from .port import RunPort
from .queues import Queue, RateLimit, queue
from .registry import (
    Backoff,
    EventTrigger,
    Function,
    Registry,
    RetryPolicy,
    Workflow,
    event,
    function,
    registry,
    workflow,
)
from .schedule_spec import SchedulePayload, ScheduleSpec
from .state import WorkflowState
from .step_context import FunctionContext, StepInfo, current_step
from .steps import Resumed
from .webhooks import WebhookTrigger, webhook

__all__ = [
    "Backoff",
    "BatchResult",
    "BatchStats",
    "BatchStepResult",
    "BatchWorkflowInput",
    "Binder",
    "ChildHandle",
    "EventTrigger",
    "Function",
    "FunctionContext",
    "Journal",
    "Queue",
    "RateLimit",
    "Registry",
    "Resumed",
    "RetryPolicy",
    "RunPort",
    "SchedulePayload",
    "ScheduleSpec",
    "StepInfo",
    "Workflow",
    "WorkflowContext",
    "WebhookTrigger",
    "WorkflowState",
    "current_step",
    "event",
    "queue",
    "function",
    "registry",
    "webhook",
    "workflow",
]
