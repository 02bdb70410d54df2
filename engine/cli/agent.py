"""``logloom agent stream|attach``: an agent run's tokens and tool calls as they come.

The text goes to stdout as it streams and the tool calls to stderr; ``--output jsonl``
prints every event as a JSON line instead (with its offset, to re-attach with
``logloom agent attach ID --from-offset N``), and the result last.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from ..clock import now_ms, to_ms
from ..errors import WorkflowFailedError
from .common import add_log_options, command, engine, json_argument, note
from .exits import Exit
from .output import line


def _text_input(text: str):
    """``--input``: the user's message; ``@FILE`` or ``-`` read it, and JSON (a list of
    messages, or a quoted string) is taken as JSON."""
    if text in ("-",) or text.startswith("@"):
        raw = sys.stdin.read() if text == "-" else open(text[1:]).read()
    else:
        raw = text
    stripped = raw.strip()
    if stripped.startswith(("[", '"', "{")):
        return json_argument(stripped, "--input")
    return raw


async def cmd_stream(args) -> int:
    async with engine(args) as (client, _):
        payload = {"input": _text_input(args.input), "stream": True}
        since_ms = now_ms()
        handle = await client.invoke(
            args.agent, payload, execution_id=args.execution_id, user_id=args.user_id, session_id=args.session_id
        )
        if await client.log.workers() == 0:
            note(f"warning: no worker serves this log: {handle.execution_id} streams once one starts")
        return await _follow(args, client, handle, since_ms=since_ms)


async def cmd_attach(args) -> int:
    async with engine(args) as (client, _):
        handle = await client.handle(args.execution_id)
        execution = await handle.status()
        since_ms = None if execution.created_at is None else to_ms(execution.created_at)
        return await _follow(args, client, handle, from_offset=args.from_offset, since_ms=since_ms)


async def _follow(args, client, handle, *, from_offset: int | None = None, since_ms: int | None = None) -> int:
    jsonl = args.output in ("json", "jsonl")
    args.on_interrupt = (
        f"interrupted: execution {handle.execution_id} goes on on the workers; "
        f"`logloom agent attach {handle.execution_id} --from-offset N` reads on"
    )
    ended = asyncio.ensure_future(handle.result(timeout=args.timeout))
    ended.add_done_callback(lambda f: f.cancelled() or f.exception())
    last_offset = None
    async for event in client.stream(handle.execution_id, from_offset=from_offset, since_ms=since_ms, ended=ended):
        last_offset = event.offset
        if jsonl:
            print(line({"offset": event.offset, "execution_id": event.execution_id, "kind": event.kind,
                        "data": event.data}), flush=True)  # fmt: skip
        elif event.kind == "text_delta":
            print(event.data["text"], end="", flush=True)
        elif event.kind == "tool_call":
            note(f"\n· {event.data['agent']} calls {event.data['name']}({line(event.data['arguments'])})")
        elif event.kind == "tool_result":
            outcome = event.data.get("error") or event.data.get("result")
            note(f"· {event.data['name']} → {outcome}")
    try:
        result = await ended
    except WorkflowFailedError as exc:
        note(f"\nerror: {exc}")
        return Exit.FAILED
    if jsonl:
        print(line({"kind": "result", "last_offset": last_offset, "result": result}), flush=True)
    else:
        print(flush=True)
        usage = (result or {}).get("usage", {}) if isinstance(result, dict) else {}
        note(
            f"execution {handle.execution_id}: {result.get('total_steps', '?')} steps, "
            f"{usage.get('input_tokens', 0)} tokens in, {usage.get('output_tokens', 0)} out"
        )
    return Exit.OK


STREAM_CODES = [Exit.OK, Exit.FAILED, Exit.USAGE, Exit.NOT_FOUND, Exit.TIMEOUT, Exit.UNAVAILABLE, Exit.INTERRUPTED]


def add_parsers(sub: argparse._SubParsersAction) -> None:
    agent = sub.add_parser(
        "agent", help="stream an agent's run", description="Agents (engine.agents.Agent): runs that stream."
    ).add_subparsers(dest="verb", required=True, metavar="VERB")

    stream = command(
        agent,
        "stream",
        "start an agent run and print its tokens as they come (tool calls on stderr)",
        ['logloom agent stream triage --input "Where is my parcel?"', "logloom agent stream triage --input @q.txt"],
        STREAM_CODES,
    )
    stream.add_argument("agent", help="the agent's name (its id)")
    stream.add_argument("--input", required=True, metavar="TEXT", help="the user's message: text, @FILE, or -")
    stream.add_argument("--execution-id", metavar="ID")
    stream.add_argument("--user-id", metavar="ID")
    stream.add_argument("--session-id", metavar="ID", help="continue this session's conversation")
    _follow_options(stream)
    stream.set_defaults(func=cmd_stream)

    attach = command(
        agent,
        "attach",
        "read a streaming run again: from an offset after a disconnect, or from its start",
        ["logloom agent attach 8f2c --from-offset 120"],
        STREAM_CODES,
    )
    attach.add_argument("execution_id")
    attach.add_argument("--from-offset", type=int, metavar="N", help="the offset after the last event seen")
    _follow_options(attach)
    attach.set_defaults(func=cmd_attach)


def _follow_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--timeout", type=float, metavar="SECONDS", help="give up waiting for the run after this long")
    add_log_options(p)
