"""The HTTP API (``logloom[http]``): FastAPI over an ``engine.Client`` (``docs/http.md``).

    from connectors.http import create_app
    app = create_app(client, tokens=load_tokens("tokens.txt"), registry=registry)

``connectors.http.server.serve`` runs it on uvicorn (``logloom serve``).
"""

from importlib import import_module

__all__ = ["ErrorCode", "create_app", "hash_token", "load_tokens"]

_WHERE = {"create_app": ".app", "ErrorCode": ".errors", "hash_token": ".tokens", "load_tokens": ".tokens"}


def __getattr__(name: str):
    # lazily (PEP 562): every ``logloom`` command imports ``connectors.http.command`` to
    # list ``serve``, and must not pay for FastAPI's import to do so
    if name in _WHERE:
        return getattr(import_module(_WHERE[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
