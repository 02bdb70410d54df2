"""The web UI at ``/ui`` (``docs/ui.md``): server-rendered pages over the app's
``engine.Client``, one small script and one stylesheet, shipped inside this package.

``install(app, digests)`` adds it to the API's app (``create_app`` does):

- ``pages``: the runs (filtered, paged), a run (timeline, records, state, agent turns,
  live while it goes on), the runs that wait, the queues;
- ``actions``: resume, cancel and rerun, as POST forms that redirect back;
- ``auth``: the login page that sets the token cookie, and the same-origin check of forms.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from ..middleware import UI_PREFIX, UI_STATIC_PREFIX
from . import actions, auth, pages
from .render import HERE


def install(app: FastAPI, digests: list[str] | None) -> None:
    """Serve the UI under ``/ui``; ``digests`` are the accepted tokens' (None: no auth)."""
    app.state.ui_digests = digests
    app.mount(UI_STATIC_PREFIX.rstrip("/"), StaticFiles(directory=HERE / "static"), name="ui-static")
    for module in (auth, actions, pages):
        app.include_router(module.router, prefix=UI_PREFIX)


__all__ = ["install"]
