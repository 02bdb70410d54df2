"""The resume form of an open suspension, and what a submitted form resumes it with.

Pure. A suspension records what it asks for as its data (``docs/waits.md``):

- ``ctx.wait_for_user(question, input_type, options)``: ``{"question", "input_type",
  "options"}``; ``approval`` answers True or False, ``select`` one option's id,
  ``multiselect`` a list of ids, ``text`` the text;
- an agent's tool approval (``approve:N.i:tool``): ``{"tool", "arguments", "call_id",
  ...}``, answered ``{"approved": bool, "feedback"?}``;
- ``ctx.step.suspend(name, {"schema": <JSON schema of an object>, ...})``: one field per
  property (string, number, integer, boolean, enum), answered with the object;
- anything else: a JSON text, answered with its value.

``answer`` checks a submission against the form and raises ``FormError`` (naming the
field) for one that does not fit: nothing is resumed then.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

MAX_TEXT_CHARS = 64 * 1024


class FormError(ValueError):
    """A submitted form that does not fit the wait's form; the message names the field."""


@dataclass
class Field:
    name: str
    kind: str  # text, number, integer, boolean, choice
    label: str
    required: bool = False
    choices: list[tuple[str, str]] = field(default_factory=list)  # (value, label)


@dataclass
class Form:
    """How to answer one open suspension."""

    wait: str  # the suspension's name (its key)
    kind: str  # approval, agent_approval, select, multiselect, text, schema, json
    question: str | None = None
    choices: list[tuple[str, str]] = field(default_factory=list)  # select, multiselect: (id, label)
    fields: list[Field] = field(default_factory=list)  # schema
    data: Any = None  # what the suspension recorded, shown as it is


def form_for(wait: str, data: Any) -> Form:
    """The form that answers the suspension ``wait`` whose recorded data is ``data``."""
    if isinstance(data, dict):
        question = data.get("question") if isinstance(data.get("question"), str) else None
        input_type = data.get("input_type")
        if "tool" in data and "call_id" in data:
            return Form(wait, "agent_approval", f"Run the tool {data['tool']!r}?", data=data)
        if input_type == "approval":
            return Form(wait, "approval", question, data=data)
        if input_type in ("select", "multiselect"):
            return Form(wait, input_type, question, _choices(data.get("options")), data=data)
        if input_type == "text":
            return Form(wait, "text", question, data=data)
        schema = data.get("schema")
        if isinstance(schema, dict) and isinstance(schema.get("properties"), dict):
            return Form(wait, "schema", question, fields=_schema_fields(schema), data=data)
    return Form(wait, "json", None, data=data)


def _choices(options: Any) -> list[tuple[str, str]]:
    choices = []
    for option in options if isinstance(options, list) else []:
        if isinstance(option, dict) and "id" in option:
            choices.append((str(option["id"]), str(option.get("label", option["id"]))))
        else:
            choices.append((str(option), str(option)))
    return choices


def _schema_fields(schema: dict) -> list[Field]:
    required = set(schema.get("required") or [])
    fields = []
    for name, prop in schema["properties"].items():
        prop = prop if isinstance(prop, dict) else {}
        label = str(prop.get("title") or prop.get("description") or name)
        if isinstance(prop.get("enum"), list):
            choices = [(str(v), str(v)) for v in prop["enum"]]
            fields.append(Field(name, "choice", label, name in required, choices))
        else:
            kind = prop.get("type") if prop.get("type") in ("number", "integer", "boolean") else "text"
            fields.append(Field(name, kind, label, name in required))
    return fields


def answer(form: Form, submitted: dict[str, list[str]]) -> Any:
    """What the submitted form (field -> values) resumes the wait with; ``FormError`` if it
    does not fit the form."""
    one = lambda name: (submitted.get(name) or [None])[-1]  # noqa: E731
    if form.kind == "approval":
        return _decision(one("decision"))
    if form.kind == "agent_approval":
        approved = _decision(one("decision"))
        feedback = (one("feedback") or "").strip()
        return {"approved": approved, **({"feedback": _text(feedback, "feedback")} if feedback else {})}
    if form.kind == "select":
        choice = one("choice")
        if choice is None:
            raise FormError("choice: choose one of the options")
        return _option(form, choice)
    if form.kind == "multiselect":
        return [_option(form, value) for value in submitted.get("choice", [])]
    if form.kind == "text":
        return _text(one("text") or "", "text")
    if form.kind == "schema":
        return {f.name: value for f in form.fields if (value := _value(f, one(f"field.{f.name}"))) is not None}
    return _json(one("json"))


def _decision(value: str | None) -> bool:
    if value not in ("approve", "reject"):
        raise FormError(f"decision: expected approve or reject, got {value!r}")
    return value == "approve"


def _option(form: Form, value: str) -> str:
    if value not in {v for v, _ in form.choices}:
        raise FormError(f"choice: {value!r} is not one of the options ({', '.join(v for v, _ in form.choices)})")
    return value


def _text(value: str, name: str) -> str:
    if len(value) > MAX_TEXT_CHARS:
        raise FormError(f"{name}: at most {MAX_TEXT_CHARS} characters")
    return value


def _value(f: Field, raw: str | None) -> Any:
    if f.kind == "boolean":
        return raw is not None
    if raw is None or raw.strip() == "":
        if f.required:
            raise FormError(f"{f.name}: required")
        return None
    raw = raw.strip()
    if f.kind == "choice":
        if raw not in {v for v, _ in f.choices}:
            raise FormError(f"{f.name}: {raw!r} is not one of {', '.join(v for v, _ in f.choices)}")
        return raw
    if f.kind == "integer":
        try:
            return int(raw)
        except ValueError:
            raise FormError(f"{f.name}: {raw!r} is not an integer") from None
    if f.kind == "number":
        try:
            number = float(raw)
        except ValueError:
            raise FormError(f"{f.name}: {raw!r} is not a number") from None
        if not math.isfinite(number):
            raise FormError(f"{f.name}: {raw!r} is not a finite number")
        return number
    return _text(raw, f.name)


def _json(raw: str | None) -> Any:
    if raw is None or not raw.strip():
        raise FormError("json: give a JSON value (null for none)")
    try:
        return json.loads(raw, parse_constant=_no_constant)
    except ValueError as exc:
        raise FormError(f"json: not valid JSON ({exc})") from None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")
