"""Issue #18's snippet, as written there, works on both logs."""

import asyncio
import uuid

from helpers import assert_eventually
from pydantic import BaseModel

from engine import RateLimit, SchedulePayload, WorkflowContext, names, queue, schedules
from engine.workflow.registry import Registry

reg = Registry()  # its decorator schedules stay out of the other tests' workers
workflow = reg.workflow


@workflow(schedule="0 9 * * *")  # Polos style; also schedule={"cron": ..., "timezone": "Europe/Paris"}
async def daily_report(ctx: WorkflowContext, input: SchedulePayload) -> str:
    return f"report {input.timestamp:%Y-%m-%d}"


@workflow(cron="*/5 * * * *")  # AGNT5 style
async def sweep(ctx: WorkflowContext) -> str:
    return "swept"


@workflow
async def reminder(ctx: WorkflowContext, input: SchedulePayload) -> str:
    return f"remind {input.key}"


class Doc(BaseModel):
    tenant_id: str
    text: str


llm_queue = queue("openai", concurrency_limit=20, rate_limit=RateLimit(limit=500, period_s=60))


@workflow(queue=llm_queue)
async def summarize(ctx: WorkflowContext, doc: Doc) -> str:
    return doc.text[:5]


async def test_the_snippet_of_issue_18(harness):
    await harness.worker(registry=reg)
    client = await harness.client()
    user_id = f"user-{uuid.uuid4().hex[:6]}"

    await schedules.create(client, reminder, cron="0 8 * * 1-5", timezone="America/New_York", key=user_id)
    handles = [await summarize.invoke(client, Doc(tenant_id=t, text="hello world"), concurrency_key=t)
               for t in ("t1", "t2", "t1")]  # fmt: skip
    assert await asyncio.gather(*(h.result(timeout=30) for h in handles)) == ["hello"] * 3
    assert {(q.queue, q.key) for q in await client.list_queues("openai")} == {("openai", "t1"), ("openai", "t2")}

    async def three_schedules():
        found = {s.schedule_id: s for s in await schedules.list(client)}
        return found if len(found) == 3 else None

    found = await assert_eventually(three_schedules, timeout=30)
    assert found[names.schedule_id("daily_report", "global")].cron == "0 9 * * *"
    assert found[names.schedule_id("sweep", "global")].cron == "*/5 * * * *"
    reminder_schedule = found[names.schedule_id("reminder", user_id)]
    assert reminder_schedule.timezone == "America/New_York" and reminder_schedule.next_tick.hour in (12, 13)
    run = await schedules.trigger(client, names.schedule_id("sweep", "global"))
    assert await run.result(timeout=30) == "swept"
