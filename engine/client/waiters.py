"""Waiting on a pump: a result waiter with a timeout, and stopping a pump and its reader.

Both client views (``live.py`` in memory, ``stored.py`` on disk) run a pump task that
folds the journal and sets waiters; these are the parts they share.
"""

from __future__ import annotations

import asyncio


async def await_end(waiters: dict[str, list[asyncio.Future]], execution_id: str, timeout_s: float | None) -> dict:
    """Wait on a waiter listed in ``waiters`` under the execution (the pump sets it to the
    ended row); ``TimeoutError`` after ``timeout_s``. A waiter that timed out or was
    cancelled leaves nothing behind."""
    loop = asyncio.get_running_loop()
    waiter = loop.create_future()
    waiters.setdefault(execution_id, []).append(waiter)
    # A timer instead of asyncio.wait_for: the pump's set_result wakes this task
    # directly, not through wait_for's extra callback hops on a busy loop.
    timer = None if timeout_s is None else loop.call_later(timeout_s, _time_out, waiter, execution_id, timeout_s)
    try:
        return await waiter
    finally:
        if timer is not None:
            timer.cancel()
        listed = waiters.get(execution_id)
        if listed is not None and waiter in listed:
            listed.remove(waiter)
            if not listed:
                del waiters[execution_id]


async def stop_reading(pump: asyncio.Task | None, reader) -> None:
    """Cancel a pump task and wait for it to end, then close its reader."""
    if pump is not None:
        pump.cancel()
        try:
            await pump
        except asyncio.CancelledError:
            pass
    if reader is not None:
        await reader.close()


def _time_out(waiter: asyncio.Future, execution_id: str, timeout_s: float) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError(f"execution {execution_id} did not finish within {timeout_s} s"))
