"""``ctx.session``: state shared by the runs of one session, kept across runs.

Runs invoked with the same ``session_id`` are routed by it, so they and their session
state live on one partition (rule 12 in ``fold/sessions.py``). The first use of
``ctx.session.state`` in a run takes the session: runs of one session that use its
state take turns, in the order they asked, and a run's children share its turn. Reads
are recorded steps and writes are ``SessionStateSet`` records, so a replay sees exactly
what the run saw.
"""

from __future__ import annotations

import asyncio
from typing import Any

from ..errors import LogloomError, StateTooLargeError
from ..wire import records
from ..wire.serde import from_json, to_json
from .state import MAX_STATE_BYTES
from .steps import StepRunner


class SessionState:
    """``ctx.session.state``: ``await get(key, default)`` and ``await set(key, value)``."""

    def __init__(self, session_id: str, steps: StepRunner):
        self._session_id = session_id
        self._steps = steps
        self._held: asyncio.Future | None = None  # resolves once this run holds the session

    async def get(self, key: str, default: Any = None) -> Any:
        """The session's value for ``key`` (``default`` if unset), as of this point of the run."""
        await self._hold()
        port = self._steps.run

        async def read() -> Any:
            value = port.session_state(self._session_id).get(key)
            return default if value is None else from_json(value)

        return await self._steps.call(self._steps.keys.explicit(self._key("get", key)), read, (), {})

    async def set(self, key: str, value: Any) -> None:
        """Set ``key`` for this session and every later run of it."""
        await self._hold()
        session, execution_id = self._session_id, self._steps.execution_id
        step_key = self._key("set", key)
        text = to_json(value, f"session {session} key {key!r} (execution {execution_id})")

        def fields() -> dict:  # only when recording: a replay must not re-judge the present
            document = dict(self._steps.run.session_state(session))
            document[key] = text
            size = len(to_json(document, "session state").encode())
            if size > MAX_STATE_BYTES:
                raise StateTooLargeError(
                    f"session {session} state would be {size} bytes of JSON (execution "
                    f"{execution_id}, step {step_key!r}); the limit is {MAX_STATE_BYTES}",
                    execution_id=execution_id,
                    size=size,
                )
            return {"name": key, "value": text}

        await self._steps.entry(step_key, records.session_state_set, fields)

    def _key(self, op: str, key: str) -> str:
        return self._steps.keys.derived(None, f"session.{op}:{key}")  # session.get:count:1, :2...

    async def _hold(self) -> None:
        """The first use in a run waits for the session (``SessionLockRequested``); later ones don't."""
        if self._held is not None:
            await self._held
            return
        self._held = asyncio.get_running_loop().create_future()
        try:
            await self._steps.wait("session.lock", records.session_lock_requested, {})
        except BaseException as exc:
            self._held.cancel() if isinstance(exc, asyncio.CancelledError) else self._held.set_exception(exc)
            raise
        self._held.set_result(None)


class Session:
    """``ctx.session``: the run's session id and its shared state."""

    def __init__(self, session_id: str | None, steps: StepRunner):
        if not session_id:
            raise LogloomError(
                f"execution {steps.execution_id} has no session: invoke it with session_id=... to use ctx.session"
            )
        self.id: str = session_id
        self.state = SessionState(session_id, steps)
