"""Signed webhooks (``logloom[http]``): ``POST /v1/webhooks/{source}/{name}`` on the HTTP app.

Stripe, GitHub, Slack and Standard Webhooks deliveries are verified on their raw body,
written to ``<namespace>.webhooks.<source>`` and start the workflows whose
``webhook(...)`` trigger matches (``docs/webhooks.md``). ``connectors.http.create_app``
mounts the route; ``load_webhook_secrets`` reads the secrets file.
"""

from . import routes as webhook_routes
from .config import SECRETS_ENV, endpoints, load_webhook_secrets, parse_secrets
from .routes import Webhooks
from .signatures import Outcome

__all__ = ["SECRETS_ENV", "Outcome", "Webhooks", "endpoints", "load_webhook_secrets", "parse_secrets", "webhook_routes"]
