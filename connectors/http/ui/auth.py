"""Logging in to the UI, and keeping its forms safe from other sites.

**Login.** A browser cannot send ``Authorization: Bearer``: ``/ui/login`` takes a token,
checks it as the API does (its SHA-256 against the server's digests, ``tokens.accepts``)
and sets it as the cookie ``UI_COOKIE``: HttpOnly (no script reads it), SameSite=Strict
(no other site's page sends it), Path=/ui (never sent to the API), Secure over HTTPS.
``BearerAuth`` then accepts the cookie for ``/ui`` paths, comparing digests only.
Without tokens (``--no-auth``) the UI is open and there is nothing to log in to.

**CSRF.** Every UI form is a POST, and every POST must come from one of the server's own
pages: its ``Origin`` (else its ``Referer``) must name the host the request was sent to,
or it is refused with 403 before anything is read or written. Browsers send ``Origin``
with every POST, so another site's page cannot pass; with auth on, its request would not
carry the cookie either (SameSite=Strict). The check applies with ``--no-auth`` too,
where there is no cookie to withhold.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.responses import RedirectResponse

from ..middleware import UI_COOKIE, UI_PREFIX
from ..tokens import accepts
from .render import UiError, UiRoute, page

COOKIE_MAX_AGE_S = 7 * 24 * 3600


async def same_origin(request: Request) -> None:
    """403 unless the POST comes from a page of this server (its Origin, else Referer)."""
    source = request.headers.get("origin") or request.headers.get("referer")
    if not source or source == "null":
        raise UiError(403, "refused: a form must be sent from this server's own page (no Origin or Referer)")
    parts = urlsplit(source)
    host = request.headers.get("host", "")
    if parts.scheme not in ("http", "https") or parts.netloc.lower() != host.lower():
        raise UiError(403, f"refused: the form was sent from {parts.scheme}://{parts.netloc}, not from {host}")


SameOrigin = Depends(same_origin)

router = APIRouter(route_class=UiRoute, include_in_schema=False)


def _safe_next(target: str | None) -> str:
    """Where to go after logging in: a UI path of this server, never another site."""
    if not target or not target.startswith(UI_PREFIX) or target.startswith("//") or "\\" in target:
        return UI_PREFIX
    return target


@router.get("/login")
async def login_page(request: Request, next: str | None = None) -> Response:
    if request.app.state.ui_digests is None:
        return RedirectResponse(_safe_next(next), status_code=303)
    return page(request, "login.html", next=_safe_next(next), problem=None)


@router.post("/login", dependencies=[SameOrigin])
async def login(
    request: Request, token: Annotated[str, Form(max_length=4096)] = "", next: Annotated[str, Form()] = ""
) -> Response:
    digests = request.app.state.ui_digests
    if digests is None:
        return RedirectResponse(_safe_next(next), status_code=303)
    token = token.strip()
    if not token or not accepts(digests, token):
        problem = "give a token" if not token else "the token is not accepted"
        return page(request, "login.html", 401, next=_safe_next(next), problem=problem)
    answer = RedirectResponse(_safe_next(next), status_code=303)
    answer.set_cookie(
        UI_COOKIE, token, max_age=COOKIE_MAX_AGE_S, path=UI_PREFIX,
        httponly=True, samesite="strict", secure=request.url.scheme == "https",
    )  # fmt: skip
    return answer


@router.post("/logout", dependencies=[SameOrigin])
async def logout(request: Request) -> Response:
    answer = RedirectResponse(f"{UI_PREFIX}/login", status_code=303)
    answer.delete_cookie(UI_COOKIE, path=UI_PREFIX, httponly=True, samesite="strict")
    return answer
