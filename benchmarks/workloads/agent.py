"""AGENT: what durability costs per model call, against the scripted model server.

The scripted server (``engine.agents.testing``) answers each request at once: turns 1 to
``TURNS - 1`` ask for the no-op tool ``bench_noop``, the last one answers. The time of one
turn is the gap between two consecutive requests of one conversation reaching the server:
the model call, then everything until the next call is sent.

1. bare: the official ``openai`` SDK in a plain loop (call, run the tool inline, append
   the messages, call again), ``RUNS`` conversations one after another;
2. agent: the same conversations as runs of the durable ``bench_agent`` (each model call
   and each tool call a recorded step), one run at a time, after 2 unreported runs;
3. overhead = agent turn - bare turn, at p50 and at p99.

On Kafka the agent runs in the worker process and the server in the harness: both are
measured at the server, on one clock.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from engine.agents.testing import ScriptedModelServer, ScriptedRequest, reply, tool_call

from ..envs import session
from ..procstat import CpuMeter
from ..stats import percentile
from . import Metric, Workload, register

TURNS = 10
RESULT_TIMEOUT = 120.0


def _script(request: ScriptedRequest):
    done = sum(1 for m in request.body.get("messages", []) if m.get("role") == "tool")
    if done < TURNS - 1:
        return reply(tool_calls=[tool_call("bench_noop", {"i": done})])
    return reply("done")


def _turns_ms(requests: list[ScriptedRequest]) -> list[float]:
    """Gaps between consecutive requests of each conversation (keyed by its first message)."""
    conversations: dict[str, list[float]] = {}
    for r in requests:
        first = next(m["content"] for m in r.body["messages"] if m["role"] == "user")
        conversations.setdefault(first, []).append(r.received_at)
    gaps = []
    for times in conversations.values():
        times.sort()
        gaps += [(b - a) * 1000 for a, b in zip(times, times[1:])]
    return gaps


async def _bare(server: ScriptedModelServer, runs: int) -> list[float]:
    import openai

    client = openai.AsyncOpenAI(api_key="bench", base_url=server.openai_base_url, max_retries=0)
    try:
        for run in range(runs):
            messages: list[dict] = [{"role": "user", "content": f"bare {run}"}]
            while True:
                completion = await client.chat.completions.create(model="bare", messages=messages)
                message = completion.choices[0].message
                messages.append(message.model_dump(exclude_none=True))
                if not message.tool_calls:
                    break
                for call in message.tool_calls:
                    messages.append({"role": "tool", "tool_call_id": call.id, "content": "0"})
    finally:
        await client.close()
    return _turns_ms(server.requests_for("bare"))


AGENT_APP = Path(__file__).resolve().parents[1] / "agent_app.py"


async def run(env, params: dict) -> dict[str, float]:
    from ..agent_app import bench_agent  # imported here: other workloads' workers load no agent

    runs = params["runs"]
    with ScriptedModelServer(_script) as server:
        os.environ["LOGLOOM_BENCH_MODEL_URL"] = server.openai_base_url  # a Kafka worker process reads it
        bench_agent.provider.base_url = server.openai_base_url  # the embedded worker is this process
        bench_agent.provider._client = None
        bare = await _bare(server, runs)
        async with session(env, "agent", app=AGENT_APP) as s:
            for warm in range(2):
                await s.guard(bench_agent.run(s.client, f"warm {warm}", timeout=RESULT_TIMEOUT))
            measured_from = len(server.requests)
            meter = CpuMeter(s.pids)
            started = time.perf_counter()
            for i in range(runs):
                result = await s.guard(bench_agent.run(s.client, f"agent {i}", timeout=RESULT_TIMEOUT))
                if result.total_steps != TURNS:
                    raise AssertionError(f"an agent run took {result.total_steps} turns, not {TURNS}")
            wall_s = time.perf_counter() - started
            cpu = meter.stop()
        agent = _turns_ms([r for r in server.requests[measured_from:] if r.model == "bench-agent"])
    turns = runs * TURNS
    return {
        "sdk_turn_p50_ms": percentile(bare, 50),
        "sdk_turn_p99_ms": percentile(bare, 99),
        "agent_turn_p50_ms": percentile(agent, 50),
        "agent_turn_p99_ms": percentile(agent, 99),
        "overhead_p50_ms": percentile(agent, 50) - percentile(bare, 50),
        "overhead_p99_ms": percentile(agent, 99) - percentile(bare, 99),
        "run_ms_mean": wall_s * 1000 / runs,
        "cpu_ms_per_turn": sum(cpu.values()) * 1000 / turns,
    }


def variants(args) -> list[dict]:
    return [{"runs": 20}]


register(
    Workload(
        name="agent",
        summary=f"{TURNS}-turn agent runs (a no-op tool per turn) vs the bare openai SDK, scripted model server",
        metrics=(
            Metric("overhead_p50_ms", "durability overhead per model call, p50", "ms", "lower"),
            Metric("overhead_p99_ms", "durability overhead per model call, p99", "ms", "lower"),
            Metric("agent_turn_p50_ms", "agent turn (model call + recorded steps), p50", "ms", "lower"),
            Metric("agent_turn_p99_ms", "agent turn, p99", "ms", "lower"),
            Metric("sdk_turn_p50_ms", "bare SDK turn, p50", "ms", "lower"),
            Metric("sdk_turn_p99_ms", "bare SDK turn, p99", "ms", "lower"),
            Metric("cpu_ms_per_turn", "CPU per agent turn, all processes", "ms", "lower"),
        ),
        run=run,
        variants=variants,
    )
)
