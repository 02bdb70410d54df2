"""Workflows the benchmarks run.

Imported by the harness (embedded log: the worker runs in the harness process) and
loaded by Kafka worker processes: ``python -m engine.cli worker benchmarks/apps.py ...``.
This file imports nothing from the ``benchmarks`` package, so it loads standalone.
"""

from engine import WorkflowContext, workflow


async def inc(x: int) -> int:
    return x + 1


@workflow(name="bench_w1")
async def bench_w1(ctx: WorkflowContext, x: int) -> int:
    """W1: three sequential durable steps, each returning its input + 1."""
    x = await ctx.step.run("s1", inc, x)
    x = await ctx.step.run("s2", inc, x)
    x = await ctx.step.run("s3", inc, x)
    return x
