"""Two pure-ASGI middlewares, outside the routes: bearer auth, then the body size limit.

Both answer before the app sees the request (no route, no body parsing), in the error
shape of ``errors.py``.
"""

from __future__ import annotations

from collections.abc import Collection
from urllib.parse import quote

from starlette.datastructures import Headers
from starlette.requests import HTTPConnection
from starlette.responses import RedirectResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import BodyTooLarge, ErrorCode, error_response
from .tokens import accepts

PUBLIC_PATHS = frozenset({"/healthz", "/openapi.json", "/docs", "/docs/oauth2-redirect"})
PUBLIC_PREFIXES = ("/v1/webhooks/",)  # signed by their senders: the signature is the auth


def is_public(path: str) -> bool:
    """A path open without a token: a public one, or exactly ``/v1/webhooks/{source}/{name}``."""
    return path in PUBLIC_PATHS or (path.startswith(PUBLIC_PREFIXES) and path.count("/") == 4 and ".." not in path)


REALM = 'Bearer realm="logloom"'
UI_PREFIX = "/ui"  # the web UI (connectors/http/ui): a browser sends its token as a cookie
UI_COOKIE = "logloom_token"  # HttpOnly, SameSite=Strict, Path=/ui: set by /ui/login
UI_PUBLIC_PATHS = frozenset({"/ui/login"})
UI_STATIC_PREFIX = "/ui/static/"


def _ui_path(path: str) -> bool:
    return path == UI_PREFIX or path.startswith(UI_PREFIX + "/")


class BearerAuth:
    """Lets a request in if its ``Authorization: Bearer <token>`` hashes to one of
    ``digests`` (``tokens.accepts``); else 401 with ``WWW-Authenticate: Bearer``.
    ``PUBLIC_PATHS`` are open: the health check and the API's description; so are the
    webhook endpoints (``PUBLIC_PREFIXES``), which verify their senders' signatures.

    Under ``/ui`` the token may come as the cookie ``UI_COOKIE`` instead (a browser cannot
    send the header), hashed and compared the same way; a page asked for without one is
    sent to ``/ui/login``. The login page and the UI's static files are open."""

    def __init__(self, app: ASGIApp, digests: Collection[str]):
        self.app = app
        self.digests = tuple(digests)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "lifespan" or is_public(path) or _ui_public(path):
            await self.app(scope, receive, send)
            return
        scheme, _, token = Headers(scope=scope).get("authorization", "").partition(" ")
        if scope["type"] == "http" and _ui_path(path):
            await self._ui(scope, receive, send, token.strip() if scheme.lower() == "bearer" else "")
            return
        if scope["type"] == "websocket":  # none yet; one added later is guarded too
            if scheme.lower() == "bearer" and accepts(self.digests, token.strip()):
                await self.app(scope, receive, send)
            else:
                await send({"type": "websocket.close", "code": 1008})
            return
        if scheme.lower() != "bearer" or not token.strip():
            answer = error_response(
                401, ErrorCode.UNAUTHORIZED, "missing bearer token: send Authorization: Bearer <token>",
                headers={"WWW-Authenticate": REALM},
            )  # fmt: skip
        elif not accepts(self.digests, token.strip()):
            answer = error_response(
                401, ErrorCode.UNAUTHORIZED, "the bearer token is not accepted",
                headers={"WWW-Authenticate": f'{REALM}, error="invalid_token"'},
            )  # fmt: skip
        else:
            await self.app(scope, receive, send)
            return
        await answer(scope, receive, send)

    async def _ui(self, scope: Scope, receive: Receive, send: Send, bearer: str) -> None:
        token = bearer or HTTPConnection(scope).cookies.get(UI_COOKIE, "")
        if token and accepts(self.digests, token):
            await self.app(scope, receive, send)
            return
        if scope["method"] in ("GET", "HEAD"):
            query = scope.get("query_string", b"").decode("latin-1")
            back = scope["path"] + (f"?{query}" if query else "")
            answer = RedirectResponse(f"{UI_PREFIX}/login?next={quote(back, safe='')}", status_code=303)
        else:
            answer = error_response(
                401, ErrorCode.UNAUTHORIZED, "log in at /ui/login first", headers={"WWW-Authenticate": REALM}
            )
        await answer(scope, receive, send)


def _ui_public(path: str) -> bool:
    return path in UI_PUBLIC_PATHS or path.startswith(UI_STATIC_PREFIX)


class BodySizeLimit:
    """Rejects a body over ``max_bytes`` with 413 before it is read whole:

    1. a ``Content-Length`` over the limit is refused before any of the body is read;
    2. otherwise the body's chunks are counted as the app reads them, and the chunk that
       passes the limit raises ``BodyTooLarge`` (the app answers 413 in the error shape;
       the route never runs, since FastAPI reads the body before it calls the route);
    3. if the app let that pass and has not started its answer, this answers 413 itself.
    """

    def __init__(self, app: ASGIApp, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = Headers(scope=scope).get("content-length")
        if length is not None:
            if not length.isdigit():
                await error_response(400, ErrorCode.INVALID_INPUT, f"invalid Content-Length {length!r}")(
                    scope, receive, send
                )
                return
            if int(length) > self.max_bytes:
                await self._too_large(scope, receive, send)
                return
        seen = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        async def watching_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, watching_send)
        except BodyTooLarge:
            if started:
                raise
            await self._too_large(scope, receive, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        answer = error_response(
            413, ErrorCode.PAYLOAD_TOO_LARGE, f"the request body is over the limit of {self.max_bytes} bytes",
            headers={"Connection": "close"},
        )  # fmt: skip
        await answer(scope, receive, send)
