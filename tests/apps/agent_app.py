"""An agent for the crash tests. Its model is the scripted server at LOGLOOM_TEST_MODEL_URL;
its tools append `execution,step,event,pid` lines to LOGLOOM_TEST_EFFECTS (as crash_app's
steps do), and ``gated_lookup`` waits for the gate file of its execution."""

import asyncio
import os

from engine import Agent, current_step, tool

EFFECTS = os.environ.get("LOGLOOM_TEST_EFFECTS", "/dev/null")
GATES = os.environ.get("LOGLOOM_TEST_GATES", "/nonexistent")
MODEL_URL = os.environ.get("LOGLOOM_TEST_MODEL_URL", "http://127.0.0.1:9/v1")


def _effect(event: str) -> None:
    info = current_step()
    line = f"{info.execution_id},{info.key},{event},{os.getpid()}\n"
    fd = os.open(EFFECTS, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
        os.fsync(fd)
    finally:
        os.close(fd)


@tool
async def lookup(n: int) -> int:
    """Look a number up."""
    _effect("ran")
    return n * 10


@tool
async def gated_lookup(n: int) -> int:
    """Look a number up slowly: until the gate file of this execution exists."""
    _effect("start")
    gate = os.path.join(GATES, current_step().execution_id)
    while not os.path.exists(gate):
        await asyncio.sleep(0.05)
    _effect("ran")
    return n * 10


support = Agent(
    id="support",
    provider="openai",
    model="support-model",
    provider_base_url=MODEL_URL,
    api_key="test-key",
    system_prompt="You help.",
    tools=[lookup, gated_lookup],
    retry_base_delay_s=0.2,
)


@tool(approval="always")
async def refund(order_id: str) -> str:
    """Refund an order; a person approves each refund."""
    _effect("ran")
    return f"refunded {order_id}"


refunder = Agent(
    name="refunder",
    model="openai/refunder-model",
    provider_base_url=MODEL_URL,
    api_key="test-key",
    instructions="You refund orders.",
    tools=[refund],
)
