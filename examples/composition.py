"""Composition: child workflows, parallel steps and batches, and session state.

Run the parent on the embedded log (no broker):

    logloom run examples/composition.py:review_docs \
        --input '{"docs": ["a b c", "d e", "f"]}' --execution-id review-1 --data-dir /tmp/composition
    logloom history review-1 --data-dir /tmp/composition

Session state needs a session id, which ``logloom invoke`` sets (``logloom run`` does not):

    logloom worker examples/composition.py --data-dir /tmp/chat &
    logloom invoke chat_turn --session-id s1 --input '{"message": "hello"}' --wait --data-dir /tmp/chat
    logloom invoke chat_turn --session-id s1 --input '{"message": "again"}' --wait --data-dir /tmp/chat

``python examples/composition.py [DATA_DIR]`` does the same from Python, with
``client.batch_invoke`` and a workflow called like a function. See docs/composition.md.
"""

import asyncio
import sys
import tempfile

from engine import (
    BatchWorkflowInput,
    Client,
    EmbeddedLog,
    FunctionContext,
    StepExecutionError,
    TerminalError,
    Worker,
    WorkflowContext,
    WorkflowState,
    function,
    workflow,
)

# -- step bodies: trivial and deterministic ----------------------------------------------


def count_words(doc: str) -> int:
    return len(doc.split())


def count_chars(doc: str) -> int:
    return len(doc)


async def shout(doc: str) -> str:
    return doc.upper()


@function
async def check_doc(ctx: FunctionContext, doc: str) -> str:
    if "x" in doc:
        raise TerminalError(f"{doc!r} contains an x")  # a failed item, not retried
    return f"ok: {doc}"


@function
async def word_count(ctx: FunctionContext, doc: str) -> int:
    return len(doc.split())


# -- children ------------------------------------------------------------------------------


class SummaryState(WorkflowState):
    """The child's typed state; the parent may give it an ``initial_state``."""

    prefix: str = ""
    words: int = 0


@workflow(state_schema=SummaryState)
async def summarize(ctx: WorkflowContext, doc: str) -> dict:
    if not doc:
        raise ValueError("empty document")  # fails the child; the parent sees StepExecutionError
    ctx.state.words = await ctx.step.run("words", count_words, doc)
    return {
        "summary": f"{ctx.state.prefix}{doc} ({ctx.state.words} words)",
        "parent": ctx.parent_execution_id,
        "root": ctx.root_execution_id,
    }


@workflow
async def audit(ctx: WorkflowContext, event: str) -> str:
    return await ctx.step.run("record", shout, event)


# -- the parent ------------------------------------------------------------------------------


@workflow
async def review_docs(ctx: WorkflowContext, docs: list[str]) -> dict:
    # Fire and forget: returns a handle once the child is recorded; the child runs on its own.
    handle = await ctx.step.invoke("audit", audit, {"event": f"review of {len(docs)} docs"})
    notified = await ctx.step.batch_invoke("notify", [BatchWorkflowInput(audit, {"event": d}) for d in docs])

    # One child, and its result. initial_state is validated against the child's state_schema.
    first = await ctx.step.invoke_and_wait(
        "first", summarize, {"doc": docs[0]}, initial_state=SummaryState(prefix="1: ")
    )

    # Children concurrently: asyncio.gather, ctx.parallel and ctx.gather all work (by name or object).
    second, third = await asyncio.gather(
        ctx.step.invoke_and_wait("second", summarize, {"doc": docs[1]}),
        ctx.step.invoke_and_wait("third", "summarize", {"doc": docs[2]}, initial_state={"prefix": "3: "}),
    )
    lengths = await ctx.parallel(ctx.step.run("len0", count_chars, docs[0]), ctx.step.run("len1", count_chars, docs[1]))
    named = await ctx.gather(
        upper=ctx.step.run("upper", shout, docs[0]),
        child=ctx.step.invoke_and_wait("named", summarize, {"doc": docs[2]}),
    )

    # Plain steps in batches: one durable step per item.
    checked = await ctx.batch(check_doc, [*docs, "xyz"], max_concurrency=2)
    words = await ctx.map(word_count, docs)

    # A failed child raises StepExecutionError in the parent, with the child's error type and code.
    try:
        await ctx.step.invoke_and_wait("empty", summarize, {"doc": ""})
        failure = None
    except StepExecutionError as exc:
        failure = {"step": exc.step, "error_type": exc.error_type, "cause_code": exc.cause_code}

    # Many children at once; one BatchStepResult per child, in input order, failures included.
    results = await ctx.step.batch_invoke_and_wait(
        "each", [BatchWorkflowInput(summarize, {"doc": d}) for d in [*docs, ""]]
    )

    return {
        "audit": handle.execution_id,
        "notified": [h.execution_id for h in notified],
        "first": first,
        "concurrent": [second["summary"], third["summary"]],
        "lengths": lengths,
        "named": {"upper": named["upper"], "child": named["child"]["summary"]},
        "batch": {"results": checked.results, "failed": checked.stats.failed_items},
        "words": words,
        "failure": failure,
        "each": [
            {
                "id": r.execution_id,
                "workflow": r.workflow_id,
                "success": r.success,
                "result": r.result and r.result["summary"],
                "error": r.error,
            }
            for r in results
        ],
    }


# -- session state -------------------------------------------------------------------------


@workflow
async def remember_topic(ctx: WorkflowContext, word: str) -> list[str]:
    # A child of a session run: same session, same call tree, so it shares the parent's turn.
    topics = await ctx.session.state.get("topics", [])
    if word not in topics:
        topics = [*topics, word]
        await ctx.session.state.set("topics", topics)
    return topics


@workflow
async def chat_turn(ctx: WorkflowContext, message: str) -> dict:
    messages = await ctx.session.state.get("messages", [])  # takes the session's turn
    reply = await ctx.step.run("reply", shout, message)
    messages = [*messages, message]
    await ctx.session.state.set("messages", messages)
    topics = await ctx.step.invoke_and_wait("topic", remember_topic, {"word": message.split()[0]})
    return {"session": ctx.session.id, "turn": len(messages), "reply": reply, "messages": messages, "topics": topics}


# -- from Python: client.batch_invoke, and a workflow called like a function ----------------


async def main(data_dir: str) -> None:
    async with EmbeddedLog(data_dir) as log, Worker(log, data_dir=data_dir), Client(log) as client:
        result = await summarize(client, {"doc": "called like a function"}, initial_state={"prefix": "fn: "})
        print(result["summary"])
        handles = await client.batch_invoke([BatchWorkflowInput(summarize, {"doc": d}) for d in ("one", "two")])
        print([(await h.result(timeout=30))["summary"] for h in handles])
        for message in ("hello world", "hello again"):
            turn = await chat_turn(client, {"message": message}, session_id="demo-session", timeout=30)
            print(turn["turn"], turn["messages"])
        print(await client.get_session_state("demo-session"))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp()))
