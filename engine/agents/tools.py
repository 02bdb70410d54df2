"""``@tool``: a function the model may call, with a JSON schema built from its signature.

The schema comes from the type hints (pydantic models included) and the docstring: its
summary is the tool's description and its ``Args:`` section describes the parameters.
A tool may take a first ``ctx`` parameter; it gets the step's ``FunctionContext``.
A ``@workflow`` is a tool too: it runs as a child run. A signature that cannot become a
schema is a ``ToolDefinitionError`` when the tool is defined, before anything runs.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pydantic

from ..errors import LogloomError
from ..workflow import Workflow

APPROVALS = ("never", "always")


class ToolDefinitionError(LogloomError):
    """A tool cannot be offered to a model: its signature has no JSON schema."""

    code = "TOOL_DEFINITION"


class ToolArgumentsError(LogloomError):
    """The model called a tool with arguments that do not fit its schema."""

    code = "TOOL_ARGUMENTS"


@dataclass
class Tool:
    """A tool offered to the model. ``kind``: ``function``, ``workflow``, ``ask_user`` or ``handoff``."""

    name: str
    description: str
    parameters: dict
    kind: str = "function"
    fn: Callable | None = None
    approval: str = "never"
    takes_context: bool = False
    arguments_model: type[pydantic.BaseModel] | None = None
    target: Any = None  # the workflow (a child-run tool) or the agent (a handoff)
    extra: dict = field(default_factory=dict)

    def spec(self) -> dict:
        return {"name": self.name, "description": self.description, "parameters": self.parameters}

    def bind(self, arguments: Any) -> dict:
        """The keyword arguments for ``fn``, validated; ``ToolArgumentsError`` tells the model why not."""
        if not isinstance(arguments, dict) or "_unparsed" in arguments:
            raise ToolArgumentsError(f"tool {self.name!r} takes a JSON object of arguments, got {arguments!r}")
        if self.arguments_model is None:
            return dict(arguments)
        try:
            model = self.arguments_model.model_validate(arguments)
        except pydantic.ValidationError as exc:
            raise ToolArgumentsError(f"invalid arguments for tool {self.name!r}: {exc}") from None
        return {name: getattr(model, name) for name in self.arguments_model.model_fields}

    def __call__(self, *args, **kwargs):
        """A tool is still its function: call it directly in tests."""
        if self.fn is None:
            raise TypeError(f"tool {self.name!r} is not a function")
        return self.fn(*args, **kwargs)


def tool(
    fn: Callable | None = None, *, name: str | None = None, description: str | None = None, approval: str = "never"
):
    """Make ``fn`` a tool. ``approval="always"``: it runs only after a person approves the call."""
    if approval not in APPROVALS:
        raise ToolDefinitionError(f"approval must be one of {APPROVALS}, not {approval!r}")

    def wrap(f: Callable) -> Tool:
        made = as_tool(f, name=name, description=description)
        made.approval = approval
        return made

    return wrap(fn) if fn is not None else wrap


def as_tool(obj: Any, *, name: str | None = None, description: str | None = None) -> Tool:
    """A ``Tool`` from a tool, a ``@workflow`` or a plain function."""
    if isinstance(obj, Tool):
        return obj
    if isinstance(obj, Workflow):
        return _workflow_tool(obj, name, description)
    if callable(obj):
        return _function_tool(obj, name, description)
    raise ToolDefinitionError(f"{obj!r} is not a tool, a workflow or a function")


def _function_tool(fn: Callable, name: str | None, description: str | None) -> Tool:
    tool_name = name or getattr(fn, "__name__", None)
    if not tool_name or not tool_name.isidentifier():
        raise ToolDefinitionError(f"a tool needs a name of letters, digits and _; {fn!r} has {tool_name!r}")
    summary, param_docs = _docs(fn)
    try:
        hints = typing.get_type_hints(fn, include_extras=True)
    except Exception as exc:
        raise ToolDefinitionError(f"tool {tool_name!r}: its type hints cannot be read: {exc}") from None
    params = list(inspect.signature(fn).parameters.values())
    takes_context = bool(params) and _is_context(params[0], hints)
    fields: dict[str, Any] = {}
    for p in params[1:] if takes_context else params:
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            raise ToolDefinitionError(f"tool {tool_name!r}: *args and **kwargs have no JSON schema ({p.name})")
        if p.name not in hints:
            raise ToolDefinitionError(f"tool {tool_name!r}: parameter {p.name!r} needs a type annotation")
        default = ... if p.default is inspect.Parameter.empty else p.default
        fields[p.name] = (hints[p.name], pydantic.Field(default, description=param_docs.get(p.name)))
    model, schema = _schema(tool_name, fields)
    return Tool(
        name=tool_name,
        description=description or summary or tool_name,
        parameters=schema,
        fn=fn,
        takes_context=takes_context,
        arguments_model=model,
    )


def _workflow_tool(wf: Workflow, name: str | None, description: str | None) -> Tool:
    tool_name = name or wf.name
    summary, _ = _docs(wf.fn)
    model = wf.binder.payload_model
    schema = {"type": "object", "properties": {}} if model is None else _clean(model.model_json_schema())
    return Tool(
        name=tool_name,
        description=description or summary or f"run the workflow {wf.name}",
        parameters=schema,
        kind="workflow",
        target=wf,
    )


def _schema(tool_name: str, fields: dict) -> tuple[type[pydantic.BaseModel], dict]:
    try:
        model = pydantic.create_model(f"{tool_name}_arguments", **fields)
        return model, _clean(model.model_json_schema())
    except Exception as exc:
        raise ToolDefinitionError(
            f"tool {tool_name!r}: its parameters cannot become a JSON schema: {type(exc).__name__}: {exc}"
        ) from None


def _clean(schema: dict) -> dict:
    schema = dict(schema)
    schema.pop("title", None)
    schema.setdefault("type", "object")
    schema.setdefault("properties", {})
    return schema


def _docs(fn: Callable) -> tuple[str, dict[str, str]]:
    doc = inspect.getdoc(fn)
    if not doc:
        return "", {}
    import docstring_parser

    parsed = docstring_parser.parse(doc)
    summary = "\n\n".join(part for part in (parsed.short_description, parsed.long_description) if part)
    return summary, {p.arg_name: p.description for p in parsed.params if p.description}


def _is_context(param: inspect.Parameter, hints: dict) -> bool:
    if param.name in ("ctx", "context"):
        return True
    annotation = hints.get(param.name)
    return getattr(annotation, "__name__", "").endswith("Context")


def ask_user_tool() -> Tool:
    """A tool that asks a person and waits for their answer (``client.resume``)."""
    return Tool(
        name="ask_user",
        description="Ask the user a question and wait for their answer. Use it when you need information "
        "only the user has.",
        parameters={
            "type": "object",
            "properties": {"question": {"type": "string", "description": "the question to ask"}},
            "required": ["question"],
        },
        kind="ask_user",
    )


ask_user = ask_user_tool()
