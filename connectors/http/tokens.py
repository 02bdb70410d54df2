"""Bearer tokens, kept hashed: the server holds SHA-256 digests, never the tokens.

Make a digest with ``hash_token``::

    python -c 'from connectors.http.tokens import hash_token; print(hash_token("secret"))'

and give the server the digests: a file with one digest a line (``#`` starts a comment),
or ``LOGLOOM_HTTP_TOKENS`` (digests separated by commas). ``accepts`` checks a presented
token against them in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

from engine.errors import LogloomError

TOKENS_ENV = "LOGLOOM_HTTP_TOKENS"
_DIGEST = re.compile(r"^[0-9a-f]{64}$")


class TokenError(LogloomError):
    """A token file or variable that holds something other than SHA-256 digests (perhaps
    a token itself, which must never be stored), or a file that cannot be read."""

    code = "INVALID_TOKENS"


def hash_token(token: str) -> str:
    """The SHA-256 digest (64 hex digits) the server keeps for ``token``."""
    return hashlib.sha256(token.encode()).hexdigest()


def check_digest(text: str, where: str) -> str:
    """``text`` as a lowercase SHA-256 digest; ``TokenError`` (naming ``where``) if it is not one."""
    digest = text.strip().lower()
    if not _DIGEST.match(digest):
        raise TokenError(
            f"{where}: expected a SHA-256 digest (64 hex digits), got {len(text.strip())} characters; "
            "store hash_token(token), never the token"
        )
    return digest


def tokens_from_file(path: str | os.PathLike) -> list[str]:
    """The digests in a file: one a line; blank lines and ``#`` comments are skipped."""
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise TokenError(f"cannot read the tokens file {path}: {exc.strerror or exc}") from exc
    digests = []
    for number, line in enumerate(text.splitlines(), 1):
        content = line.split("#", 1)[0].strip()
        if content:
            digests.append(check_digest(content, f"{path}:{number}"))
    return digests


def tokens_from_env(environ: Mapping[str, str] | None = None) -> list[str]:
    """The digests in ``LOGLOOM_HTTP_TOKENS``, separated by commas (none if it is unset)."""
    value = (os.environ if environ is None else environ).get(TOKENS_ENV, "")
    return [check_digest(part, TOKENS_ENV) for part in value.split(",") if part.strip()]


def load_tokens(path: str | os.PathLike | None = None, environ: Mapping[str, str] | None = None) -> list[str]:
    """The digests of the file at ``path`` (if given) and of ``LOGLOOM_HTTP_TOKENS``,
    without repeats. An empty list lets no one in: whether to serve without auth is the
    caller's decision (``create_app(tokens=None)``), never a default."""
    found = (tokens_from_file(path) if path is not None else []) + tokens_from_env(environ)
    return list(dict.fromkeys(found))


def accepts(digests: Iterable[str], token: str) -> bool:
    """Whether ``token`` hashes to one of ``digests``; every digest is compared, in
    constant time, so the answer's timing says nothing about which came close."""
    presented = hash_token(token).encode()
    matched = False
    for digest in digests:
        matched |= hmac.compare_digest(presented, digest.encode())
    return matched
