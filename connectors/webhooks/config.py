"""Which webhook endpoints a server answers, and the secrets that verify each.

An endpoint ``(source, name)`` gets its secrets from, all together (any one verifies):

1. the workflows that declare it (``webhook(..., secret=)``, ``webhook_secret=``; a
   ``"env:NAME"`` secret is read from the environment variable ``NAME`` here);
2. the secrets file (``logloom serve --webhook-secrets FILE``), then the variable
   ``LOGLOOM_WEBHOOK_SECRETS``; both hold lines ``SOURCE/NAME SECRET [SECRET ...]``
   (``#`` starts a comment; in the variable, ``;`` also ends a line).

An endpoint without a secret answers nothing but ``unknown_endpoint``. A secret is
never logged or shown: messages name the endpoint only.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from engine import LogloomError
from engine.workflow.webhooks import SOURCES, check_endpoint

log = logging.getLogger(__name__)

SECRETS_ENV = "LOGLOOM_WEBHOOK_SECRETS"

Endpoints = dict[tuple[str, str], list[str]]  # (source, name) -> its secrets


def parse_secrets(text: str, where: str) -> Endpoints:
    """Lines ``SOURCE/NAME SECRET [SECRET ...]``; errors name the line, never a secret."""
    out: Endpoints = {}
    for number, line in enumerate(text.replace(";", "\n").splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        endpoint, *secrets = line.split()
        source, sep, name = endpoint.partition("/")
        if not sep or not secrets:
            raise LogloomError(f"{where}, line {number}: expected 'SOURCE/NAME SECRET [SECRET ...]'")
        try:
            check_endpoint(source, name)
        except LogloomError as exc:
            raise LogloomError(f"{where}, line {number}: {exc}") from None
        out.setdefault((source, name), []).extend(secrets)
    return out


def load_webhook_secrets(path: str | os.PathLike | None = None, environ: Mapping[str, str] | None = None) -> Endpoints:
    """The secrets of the file at ``path`` (if given) and of ``LOGLOOM_WEBHOOK_SECRETS``."""
    env = os.environ if environ is None else environ
    found: Endpoints = {}
    sources = []
    if path is not None:
        try:
            sources.append((Path(path).read_text(), str(path)))
        except OSError as exc:
            raise LogloomError(f"cannot read the webhook secrets file {path}: {exc.strerror}") from None
    sources.append((env.get(SECRETS_ENV, ""), f"${SECRETS_ENV}"))
    for text, where in sources:
        for endpoint, secrets in parse_secrets(text, where).items():
            found.setdefault(endpoint, []).extend(secrets)
    return found


def endpoints(registry: Any, configured: Endpoints | None, environ: Mapping[str, str] | None = None) -> Endpoints:
    """Every endpoint with at least one secret: the registry's declared ones and the
    configured ones. A declared endpoint without a secret is logged (it refuses all)."""
    out: Endpoints = {endpoint: list(secrets) for endpoint, secrets in (configured or {}).items()}
    env = dict(os.environ if environ is None else environ)
    declared: dict[tuple[str, str], list[str]] = {}
    for wf, trigger in registry.webhook_triggers() if registry is not None else []:
        declared.setdefault(trigger.endpoint, []).append(wf.name)
        out.setdefault(trigger.endpoint, []).extend(trigger.resolved_secrets(env))
    for endpoint, secrets in list(out.items()):
        out[endpoint] = list(dict.fromkeys(secrets))
        if not out[endpoint]:
            del out[endpoint]
            log.warning(
                "webhook endpoint %s/%s (of %s) has no secret: its deliveries are refused",
                *endpoint,
                ", ".join(declared.get(endpoint, [])),
            )
        elif endpoint[0] == "standard":
            _check_standard(endpoint, out[endpoint])
    return out


def _check_standard(endpoint: tuple[str, str], secrets: list[str]) -> None:
    """A Standard Webhooks secret is base64 (``whsec_...``); say which endpoint's is not."""
    from standardwebhooks.webhooks import Webhook

    for secret in secrets:
        try:
            Webhook(secret)
        except Exception:
            raise LogloomError(
                f"a secret of webhook endpoint {endpoint[0]}/{endpoint[1]} is not a Standard Webhooks "
                "secret (base64, usually whsec_...)"
            ) from None


__all__ = ["SECRETS_ENV", "SOURCES", "Endpoints", "endpoints", "load_webhook_secrets", "parse_secrets"]
