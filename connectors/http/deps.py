"""What the routes are given: the engine client and the registry the app was made with."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request

from engine import Client


@dataclass(frozen=True)
class Engine:
    client: Client
    registry: Any = None  # an engine.workflow.Registry: invocations are checked against it

    def target(self, workflow: str) -> Any:
        """What to invoke: the registry's workflow (its input is checked before anything is
        appended; an unknown name is ``UnknownWorkflowError``), or the bare name."""
        return workflow if self.registry is None else self.registry.get(workflow)


async def _engine(request: Request) -> Engine:
    # async: FastAPI would run a plain def in a worker thread, a thread hop per request
    return request.app.state.engine


EngineDep = Annotated[Engine, Depends(_engine)]
