"""Logloom: durable execution for Python workflows and AI agents on a partitioned log.

The public API. The packages behind it, bottom layer first (each imports only the ones
before it; ``docs/architecture.md``): ``errors``/``names``/``clock``, ``wire``, ``log``,
``config``, ``fold``, ``store``, ``workflow``, ``runtime``, ``client``, ``replay``/``cli``.
"""

from .client import Client, Execution, ExecutionHandle, HistoryRecord
from .config import EngineConfig, KafkaConfig, open_log
from .errors import (
    DuplicateStepKeyError,
    ExecutionNotFoundError,
    InputValidationError,
    LogloomError,
    NondeterminismError,
    RetryableError,
    SerializationError,
    StateTooLargeError,
    StepExecutionError,
    TerminalError,
    UnknownWorkflowError,
    WaitTimeoutError,
    WorkflowFailedError,
)
from .log import EmbeddedLog, Log
from .runtime import Worker
from .wire.events import EventPayload, register_event_schema
from .workflow import (
    Backoff,
    BatchResult,
    BatchStats,
    BatchStepResult,
    BatchWorkflowInput,
    ChildHandle,
    EventTrigger,
    FunctionContext,
    Resumed,
    RetryPolicy,
    StepInfo,
    Workflow,
    WorkflowContext,
    WorkflowState,
    current_step,
    event,
    function,
    registry,
    workflow,
)

__all__ = [
    "Backoff", "BatchResult", "BatchStats", "BatchStepResult", "BatchWorkflowInput", "ChildHandle", "Client",
    "DuplicateStepKeyError", "EmbeddedLog", "EngineConfig", "EventPayload", "EventTrigger", "Execution",
    "ExecutionHandle", "ExecutionNotFoundError", "FunctionContext", "HistoryRecord", "InputValidationError",
    "KafkaConfig", "Log", "LogloomError", "NondeterminismError", "Resumed", "RetryPolicy", "RetryableError",
    "SerializationError", "StateTooLargeError", "StepExecutionError", "StepInfo", "TerminalError",
    "UnknownWorkflowError", "WaitTimeoutError", "Worker", "Workflow", "WorkflowContext", "WorkflowFailedError",
    "WorkflowState", "current_step", "event", "function", "open_log", "register_event_schema", "registry",
    "workflow",
]
