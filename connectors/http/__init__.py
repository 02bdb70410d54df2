"""The HTTP API (``logloom[http]``): FastAPI over an ``engine.Client`` (``docs/http.md``).

    from connectors.http import create_app
    app = create_app(client, tokens=load_tokens("tokens.txt"), registry=registry)

``connectors.http.server.serve`` runs it on uvicorn (``logloom serve``).
"""

from .app import create_app
from .errors import ErrorCode
from .tokens import hash_token, load_tokens

__all__ = ["ErrorCode", "create_app", "hash_token", "load_tokens"]
