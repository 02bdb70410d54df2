"""Binding a JSON payload to a workflow's parameters (everything after ``ctx``)."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import pydantic

from ..errors import InputValidationError


class Binder:
    """Turns a JSON payload into the arguments of a workflow (everything after ``ctx``).

    * One parameter annotated with a pydantic model (Polos style): the whole payload is
      validated into that model.
    * Otherwise (AGNT5 style): the payload is a JSON object whose keys bind the
      parameters by name, each validated against its annotation.
    """

    def __init__(self, fn: Callable, skip: int = 1):
        params = list(_signature(fn).parameters.values())[skip:]
        self.name = getattr(fn, "__qualname__", repr(fn))
        self._model_param = None
        self._fields_model = None
        self._param_names = [p.name for p in params]
        if len(params) == 1 and _is_model(params[0].annotation):
            self._model_param = params[0].annotation
        elif params:
            fields = {}
            for p in params:
                annotation = Any if p.annotation is inspect.Parameter.empty else p.annotation
                default = ... if p.default is inspect.Parameter.empty else p.default
                fields[p.name] = (annotation, default)
            self._fields_model = pydantic.create_model(
                f"{fn.__name__}_input", __config__=pydantic.ConfigDict(arbitrary_types_allowed=True), **fields
            )

    @property
    def model(self) -> type | None:
        """The pydantic model the whole payload binds to (Polos style), if any."""
        return self._model_param

    @property
    def param_names(self) -> list[str]:
        """The parameters after ``ctx``, in order."""
        return list(self._param_names)

    @property
    def payload_model(self) -> type | None:
        """The pydantic model a payload validates against: the parameter's, or one of the
        parameters by name; None when the workflow takes no input. For JSON schemas."""
        return self._model_param or self._fields_model

    def bind(self, payload: Any) -> dict[str, Any]:
        """Keyword arguments for the workflow; raises ``InputValidationError``."""
        try:
            if self._model_param is not None:
                return {self._param_names[0]: self._model_param.model_validate(payload)}
            if self._fields_model is None:
                if payload not in (None, {}):
                    raise InputValidationError(f"{self.name} takes no input, got {payload!r}")
                return {}
            if payload is None:
                payload = {}
            if not isinstance(payload, dict):
                raise InputValidationError(
                    f"{self.name} takes a JSON object with keys {self._param_names}, got {type(payload).__name__}"
                )
            unknown = set(payload) - set(self._param_names)
            if unknown:
                raise InputValidationError(f"{self.name} has no parameters {sorted(unknown)}")
            model = self._fields_model.model_validate(payload)
            return {name: getattr(model, name) for name in self._param_names}
        except pydantic.ValidationError as exc:
            raise InputValidationError(f"invalid input for {self.name}: {exc}") from exc

    def bind_scheduled(self, payload: dict) -> dict[str, Any]:
        """Arguments for a run a schedule started (``payload``: a ``SchedulePayload`` as a
        dict): the model parameter gets all of it; one other parameter gets all of it too,
        unless it names one of its fields; parameters named after its fields get those;
        a workflow that takes no input gets nothing."""
        if self._model_param is not None or self._fields_model is None:
            return self.bind(payload if self._model_param is not None else None)
        if len(self._param_names) == 1 and self._param_names[0] not in payload:
            return self.bind({self._param_names[0]: payload})
        return self.bind({name: value for name, value in payload.items() if name in self._param_names})


def _signature(fn: Callable) -> inspect.Signature:
    """``fn``'s signature, its annotations evaluated: a module with ``from __future__
    import annotations`` has them as strings. As written if they do not evaluate (a name
    imported only under ``TYPE_CHECKING``)."""
    try:
        return inspect.signature(fn, eval_str=True)
    except (NameError, AttributeError, SyntaxError, TypeError):
        return inspect.signature(fn)


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, pydantic.BaseModel)
