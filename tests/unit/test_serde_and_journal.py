import pydantic
import pytest

from engine.errors import InputValidationError, NondeterminismError, SerializationError
from engine.wire.serde import to_json
from engine.workflow.binding import Binder
from engine.workflow.journal import Journal


class OrderInput(pydantic.BaseModel):
    order_id: str
    amount: float


async def polos(ctx, input: OrderInput): ...
async def agnt5(ctx, order_id: str, count: int = 1): ...
async def nothing(ctx): ...


def test_single_model_parameter_gets_the_whole_payload():
    bound = Binder(polos).bind({"order_id": "o1", "amount": "2.5"})
    assert bound == {"input": OrderInput(order_id="o1", amount=2.5)}


def test_json_object_binds_parameters_by_name():
    assert Binder(agnt5).bind({"order_id": "o2"}) == {"order_id": "o2", "count": 1}
    assert Binder(agnt5).bind({"order_id": "o2", "count": "3"}) == {"order_id": "o2", "count": 3}


@pytest.mark.parametrize(
    "fn,payload,match",
    [
        (polos, {"order_id": "o1"}, "amount"),
        (agnt5, {"count": 2}, "order_id"),
        (agnt5, {"order_id": "o", "extra": 1}, "no parameters \\['extra'\\]"),
        (agnt5, [1, 2], "JSON object"),
        (nothing, {"x": 1}, "takes no input"),
    ],
)
def test_bad_payloads_are_clear_errors(fn, payload, match):
    with pytest.raises(InputValidationError, match=match):
        Binder(fn).bind(payload)


def test_models_serialise_in_json_mode_and_others_fail_clearly():
    assert to_json(OrderInput(order_id="a", amount=1), "x") == '{"order_id":"a","amount":1.0}'
    with pytest.raises(SerializationError, match="result of step 'charge'.*object"):
        to_json(object(), "result of step 'charge'")


@pytest.mark.parametrize("value", [float("nan"), {"x": [float("inf")]}, -float("inf")])
def test_nan_and_infinity_are_refused_since_they_would_not_read_back(value):
    with pytest.raises(SerializationError, match="result of step 'score' holds NaN or Infinity"):
        to_json(value, "result of step 'score'")


def test_nan_and_infinity_inside_strings_are_text():
    assert to_json({"note": "NaN and Infinity"}, "x") == '{"note":"NaN and Infinity"}'


def test_journal_names_both_steps_on_divergence():
    journal = Journal("e1", {1: {"key": "validate", "status": "completed", "result": "1"}})
    assert journal.recorded(1, "validate")["result"] == "1"
    assert journal.recorded(2, "anything") is None
    with pytest.raises(NondeterminismError) as info:
        journal.recorded(1, "charge")
    assert info.value.position == 1 and info.value.expected == "validate" and info.value.found == "charge"
    assert "'validate'" in str(info.value) and "'charge'" in str(info.value)
    assert not isinstance(info.value, Exception)  # a user's `except Exception` cannot swallow it
