"""``ctx.session``: state shared by the runs of one session, kept across runs.

Runs invoked with the same ``session_id`` are routed by it, so they and their session
state live on one partition (rule 12 in ``fold_sessions.py``). The first use of
``ctx.session.state`` in a run takes the session: runs of one session that use its
state take turns, in the order they asked, and a run's children share its turn. Reads
are recorded steps and writes are ``SessionStateSet`` records, so a replay sees exactly
what the run saw.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from .errors import LogloomError, StateTooLargeError
from .fold_sessions import session_state_key
from .serde import from_json, to_json
from .state import MAX_STATE_BYTES

if TYPE_CHECKING:
    from .context import WorkflowContext


class SessionState:
    """``ctx.session.state``: ``await get(key, default)`` and ``await set(key, value)``."""

    def __init__(self, ctx: "WorkflowContext"):
        self._ctx = ctx
        self._held: asyncio.Future | None = None  # resolves once this run holds the session

    async def get(self, key: str, default: Any = None) -> Any:
        """The session's value for ``key`` (``default`` if unset), as of this point of the run."""
        await self._hold()
        session, store = self._ctx.session_id, self._ctx.step._run.processor.store

        async def read() -> Any:
            value = (store.get(session_state_key(session)) or {}).get(key)
            return default if value is None else from_json(value)
        return await self._ctx.step.run(self._key("get", key), read)

    async def set(self, key: str, value: Any) -> None:
        """Set ``key`` for this session and every later run of it."""
        await self._hold()
        ctx = self._ctx
        step_key = self._key("set", key)
        text = to_json(value, f"session {ctx.session_id} key {key!r} (execution {ctx.execution_id})")

        def fields() -> dict:  # only when recording: a replay must not re-judge the present
            document = dict(ctx.step._run.processor.store.get(session_state_key(ctx.session_id)) or {})
            document[key] = text
            size = len(to_json(document, "session state").encode())
            if size > MAX_STATE_BYTES:
                raise StateTooLargeError(
                    f"session {ctx.session_id} state would be {size} bytes of JSON (execution "
                    f"{ctx.execution_id}, step {step_key!r}); the limit is {MAX_STATE_BYTES}",
                    execution_id=ctx.execution_id, size=size)
            return {"name": key, "value": text}
        await ctx.step._entry(step_key, "SessionStateSet", fields)

    def _key(self, op: str, key: str) -> str:
        return self._ctx.step._key(None, f"session.{op}:{key}")  # session.get:count:1, :2...

    async def _hold(self) -> None:
        """The first use in a run waits for the session (``SessionLockRequested``); later ones don't."""
        if self._held is not None:
            await self._held
            return
        self._held = asyncio.get_running_loop().create_future()
        try:
            await self._ctx.step._wait("session.lock", "SessionLockRequested", {})
        except BaseException as exc:
            self._held.cancel() if isinstance(exc, asyncio.CancelledError) else self._held.set_exception(exc)
            raise
        self._held.set_result(None)


class Session:
    """``ctx.session``: the run's session id and its shared state."""

    def __init__(self, ctx: "WorkflowContext"):
        if not ctx.session_id:
            raise LogloomError(f"execution {ctx.execution_id} has no session: invoke it with session_id=... "
                               "to use ctx.session")
        self.id: str = ctx.session_id
        self.state = SessionState(ctx)
