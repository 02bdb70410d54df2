"""Logloom: durable execution for Python workflows and AI agents on a partitioned log."""

from .children import BatchStepResult, BatchWorkflowInput, ChildHandle
from .client import Client, Execution, ExecutionHandle, HistoryRecord
from .config import EngineConfig, KafkaConfig, open_log
from .context import BatchResult, BatchStats, FunctionContext, Resumed, StepInfo, WorkflowContext, current_step
from .errors import (DuplicateStepKeyError, ExecutionNotFoundError, InputValidationError, LogloomError,
                     NondeterminismError, RetryableError, SerializationError, StateTooLargeError, StepExecutionError,
                     TerminalError, UnknownWorkflowError, WaitTimeoutError, WorkflowFailedError)
from .log import EmbeddedLog, Log
from .state import WorkflowState
from .events import EventPayload, register_event_schema
from .registry import Backoff, EventTrigger, RetryPolicy, Workflow, event, function, registry, workflow
from .worker import Worker

__all__ = [
    "Backoff", "BatchResult", "BatchStats", "BatchStepResult", "BatchWorkflowInput", "ChildHandle", "Client", "EventPayload", "EventTrigger", "DuplicateStepKeyError", "EmbeddedLog", "EngineConfig", "Execution",
    "ExecutionHandle", "ExecutionNotFoundError", "FunctionContext", "HistoryRecord",
    "InputValidationError", "KafkaConfig", "Log", "LogloomError", "NondeterminismError",
    "Resumed", "RetryPolicy", "RetryableError", "SerializationError", "StateTooLargeError", "StepExecutionError", "StepInfo",
    "TerminalError", "UnknownWorkflowError", "WaitTimeoutError", "Worker", "Workflow", "WorkflowContext", "WorkflowState",
    "WorkflowFailedError", "current_step", "event", "function", "register_event_schema", "open_log", "registry", "workflow",
]
