"""The agent the AGENT benchmark runs, apart from ``apps.py`` so that the other workloads'
workers load no agent (and no provider SDK). Loaded standalone by Kafka worker processes:
``python -m engine.cli worker benchmarks/agent_app.py ...``; its model is the scripted
server at ``LOGLOOM_BENCH_MODEL_URL``."""

import os

from engine import Agent, tool

BENCH_MODEL_URL = os.environ.get("LOGLOOM_BENCH_MODEL_URL", "http://127.0.0.1:9/v1")


@tool
async def bench_noop(i: int) -> int:
    """Return i (the agent benchmark's tool: no work, so a turn is all engine)."""
    return i


bench_agent = Agent(
    id="bench_agent",
    provider="openai",
    model="bench-agent",
    provider_base_url=BENCH_MODEL_URL,
    api_key="bench",
    tools=[bench_noop],
    max_iterations=100,
)
