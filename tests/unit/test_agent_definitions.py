"""Agent definitions: tool schemas, bad definitions caught before anything runs, provider
message formats, approvals and stop conditions."""

import pytest
from pydantic import BaseModel

from engine import Agent, FunctionContext
from engine.agents import ProviderConfigError, StopContext, ToolArgumentsError, ToolDefinitionError, tool
from engine.agents.loop import approval_of
from engine.agents.providers.anthropic_messages import _wire_messages
from engine.agents.providers.openai_chat import _params
from engine.agents.stops import executed_tool, has_text, max_tokens
from engine.agents.tools import as_tool
from engine.workflow.registry import Registry


class Address(BaseModel):
    city: str
    zip: str | None = None


def test_a_tool_schema_comes_from_type_hints_pydantic_models_and_the_docstring():
    @tool
    async def ship(ctx: FunctionContext, order_id: str, to: Address, express: bool = False) -> dict:
        """Ship an order.

        Args:
            order_id: the order to ship
            to: where it goes
        """

    assert ship.name == "ship" and ship.description == "Ship an order." and ship.takes_context
    params = ship.parameters
    assert params["required"] == ["order_id", "to"]
    assert params["properties"]["order_id"] == {
        "description": "the order to ship",
        "title": "Order Id",
        "type": "string",
    }
    assert params["properties"]["express"]["default"] is False
    assert params["$defs"]["Address"]["properties"]["city"]["type"] == "string"
    assert ship.bind({"order_id": "o1", "to": {"city": "Lyon"}}) == {
        "order_id": "o1",
        "to": Address(city="Lyon"),
        "express": False,
    }
    with pytest.raises(ToolArgumentsError, match="invalid arguments for tool 'ship'"):
        ship.bind({"order_id": "o1"})


def test_a_function_without_ctx_is_a_tool_too():
    def add(a: int, b: int) -> int:
        """Add two numbers."""
        return a + b

    made = as_tool(add)
    assert not made.takes_context and made.parameters["required"] == ["a", "b"] and made(1, 2) == 3


def test_signatures_without_a_schema_are_refused_when_the_tool_is_defined():
    class Opaque:
        pass

    with pytest.raises(ToolDefinitionError, match="parameter 'x' needs a type annotation"):

        @tool
        def untyped(x): ...

    with pytest.raises(ToolDefinitionError, match=r"\*args and \*\*kwargs"):

        @tool
        def variadic(*names: str): ...

    with pytest.raises(ToolDefinitionError, match="tool 'opaque': its parameters cannot become a JSON schema"):

        @tool
        def opaque(thing: Opaque): ...

    with pytest.raises(ToolDefinitionError, match="approval must be one of"):
        tool(approval="sometimes")


def test_a_workflow_is_a_tool_with_its_input_schema():
    registry = Registry()

    @registry.workflow
    async def lookup_order(ctx, order_id: str, verbose: bool = False) -> dict:
        """Find an order."""

    made = as_tool(lookup_order)
    assert made.kind == "workflow" and made.description == "Find an order."
    assert made.parameters["required"] == ["order_id"]


def test_bad_agents_fail_when_defined():
    registry = Registry()
    with pytest.raises(ProviderConfigError, match=r"unknown provider 'openia'; known: anthropic, .*openai"):
        Agent(id="a", provider="openia", model="gpt-4o", registry=registry)
    with pytest.raises(ProviderConfigError, match="names no provider"):
        Agent(name="b", model="gpt-4o", registry=registry)
    with pytest.raises(ToolDefinitionError, match="two tools named 'dup'"):

        def dup(x: int) -> int:
            """One."""

        Agent(id="c", provider="openai", model="m", tools=[dup, tool(dup)], registry=registry, api_key="k")
    with pytest.raises(ProviderConfigError, match="'vllm' needs provider_base_url"):
        Agent(id="d", model="vllm/llama", registry=registry)


def test_agnt5_and_polos_styles_make_the_same_agent():
    registry = Registry()
    polos = Agent(id="p", provider="anthropic", model="claude-x", system_prompt="Hi.", registry=registry)
    agnt5 = Agent(name="q", model="anthropic/claude-x", instructions="Hi.", registry=registry)
    assert (polos.provider.name, polos.model, polos.system_prompt) == (agnt5.provider.name, agnt5.model, "Hi.")
    assert registry.get("p").kind == "agent" and registry.get("q") is agnt5.workflow


def test_the_anthropic_format_groups_tool_results_and_alternates_turns():
    messages = [
        {"role": "user", "content": "go"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "t1", "name": "a", "arguments": {}}, {"id": "t2", "name": "b", "arguments": {"x": 1}}]},
        {"role": "tool", "tool_call_id": "t1", "name": "a", "content": "A"},
        {"role": "tool", "tool_call_id": "t2", "name": "b", "content": "B"},
        {"role": "user", "content": "and?"},
    ]  # fmt: skip
    wire = _wire_messages(messages)
    assert [m["role"] for m in wire] == ["user", "assistant", "user"]
    assert [b["type"] for b in wire[2]["content"]] == ["tool_result", "tool_result", "text"]
    assert wire[1]["content"][1] == {"type": "tool_use", "id": "t2", "name": "b", "input": {"x": 1}}


def test_the_openai_format_puts_the_system_prompt_first_and_arguments_as_json_text():
    from engine.agents.providers import ModelRequest

    request = ModelRequest(
        model="m",
        system="S",
        messages=[
            {"role": "assistant", "content": None, "tool_calls": [{"id": "c", "name": "f", "arguments": {"a": 1}}]}
        ],
        max_output_tokens=50,
    )
    params = _params(request)
    assert params["messages"][0] == {"role": "system", "content": "S"}
    assert params["messages"][1]["tool_calls"][0]["function"] == {"name": "f", "arguments": '{"a": 1}'}
    assert params["max_completion_tokens"] == 50


@pytest.mark.parametrize(
    "answer, expected",
    [
        (True, (True, None)),
        ("approve", (True, None)),
        ("reject", (False, None)),
        ({"approved": False, "feedback": "no"}, (False, "no")),
        ({"decision": "approve"}, (True, None)),
        (None, (False, None)),
    ],
)
def test_approval_answers(answer, expected):
    assert approval_of(answer) == expected


def test_stop_conditions():
    context = StopContext("a", steps=2, input_tokens=70, output_tokens=40, executed_tools=("x",), last_text="DONE!")
    assert max_tokens(100)(context) and not max_tokens(200)(context)
    assert executed_tool(["x"])(context) and not executed_tool(["x", "y"])(context)
    assert has_text(["DONE"])(context) and not has_text(["nope"])(context)
