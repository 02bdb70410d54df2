"""Binding inputs in a module with ``from __future__ import annotations``: its parameters'
annotations are strings until evaluated (``workflow.binding``)."""

from __future__ import annotations

import pydantic

from engine import SchedulePayload, WorkflowContext
from engine.workflow.binding import Binder


class Order(pydantic.BaseModel):
    order_id: str
    amount: int


async def polos_style(ctx: WorkflowContext, input: Order) -> None: ...


async def scheduled(ctx: WorkflowContext, input: SchedulePayload) -> None: ...


def test_a_model_parameter_binds_the_whole_payload_when_annotations_are_strings():
    binder = Binder(polos_style)
    assert binder.model is Order
    assert binder.bind({"order_id": "o-1", "amount": 3}) == {"input": Order(order_id="o-1", amount=3)}


def test_a_schedule_payload_binds_when_annotations_are_strings():
    tick = {"timestamp": "2026-11-27T09:00:00Z", "last_timestamp": None, "timezone": "UTC",
            "schedule_id": "report/global", "key": "global", "upcoming": "2026-11-28T09:00:00Z"}  # fmt: skip
    bound = Binder(scheduled).bind_scheduled(tick)["input"]
    assert isinstance(bound, SchedulePayload) and bound.schedule_id == "report/global"
