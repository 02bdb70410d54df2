"""Each webhook source's signature, delivery id and event type (``connectors/webhooks/signatures.py``),
signed here as the providers document it; the secrets file; the envelope kept on the topic;
how a delivery binds a workflow's parameters; which paths skip the bearer tokens."""

import base64
import hashlib
import hmac
import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from standardwebhooks.webhooks import Webhook

from connectors.http.middleware import is_public
from connectors.webhooks import endpoints, load_webhook_secrets, parse_secrets
from connectors.webhooks.signatures import Outcome, Rejected, verify
from engine import LogloomError, WebhookDelivery, WorkflowContext, webhook
from engine.wire.webhooks import decode_envelope, delivery_of, encode_envelope
from engine.workflow import Registry
from engine.workflow.webhooks import webhook_payload

NOW_S = 1_764_240_000
SECRET = "whsec_plain_text_secret"
STD_A = "whsec_" + base64.b64encode(b"key a for standard webhooks").decode()
STD_B = "whsec_" + base64.b64encode(b"key b for standard webhooks").decode()


def _hex(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def rejected(outcome: Outcome, *args) -> str:
    with pytest.raises(Rejected) as caught:
        verify(*args)
    assert caught.value.outcome is outcome, caught.value
    assert SECRET not in caught.value.message and STD_A not in caught.value.message
    return caught.value.message


# -- stripe ---------------------------------------------------------------------------------

STRIPE_BODY = b'{"id": "evt_1", "type": "invoice.paid", "data": {}}'


def stripe_headers(body: bytes, t: int = NOW_S, secret: str = SECRET) -> dict:
    return {"stripe-signature": f"t={t},v1={_hex(secret, f'{t}.'.encode() + body)},v0=ignored"}


def test_stripe_takes_its_signature_and_reads_the_id_and_type_from_the_body():
    verified = verify("stripe", ["other", SECRET], stripe_headers(STRIPE_BODY), STRIPE_BODY, NOW_S + 299)
    assert (verified.delivery_id, verified.event, verified.challenge) == ("evt_1", "invoice.paid", None)


def test_stripe_refuses_a_wrong_a_missing_or_an_old_signature_and_a_body_without_an_id():
    assert "Stripe-Signature" in rejected(Outcome.BAD_SIGNATURE, "stripe", [SECRET], {}, STRIPE_BODY, NOW_S)
    wrong = stripe_headers(STRIPE_BODY, secret="whsec_other")
    assert "no v1 signature" in rejected(Outcome.BAD_SIGNATURE, "stripe", [SECRET], wrong, STRIPE_BODY, NOW_S)
    tampered = STRIPE_BODY.replace(b"invoice", b"invoicf")
    rejected(Outcome.BAD_SIGNATURE, "stripe", [SECRET], stripe_headers(STRIPE_BODY), tampered, NOW_S)
    old = stripe_headers(STRIPE_BODY, t=NOW_S - 301)
    assert "over 300 s" in rejected(Outcome.STALE, "stripe", [SECRET], old, STRIPE_BODY, NOW_S)
    no_id = b'{"type": "invoice.paid"}'
    assert "'id'" in rejected(Outcome.BAD_BODY, "stripe", [SECRET], stripe_headers(no_id), no_id, NOW_S)


# -- github ---------------------------------------------------------------------------------


def test_github_takes_its_signature_and_reads_the_delivery_and_event_headers():
    body = b'{"ref": "refs/heads/main"}'
    headers = {
        "x-hub-signature-256": "sha256=" + _hex(SECRET, body),
        "x-github-delivery": "d-1",
        "x-github-event": "push",
    }
    verified = verify("github", [SECRET], headers, body, NOW_S)
    assert (verified.delivery_id, verified.event) == ("d-1", "push")
    rejected(Outcome.BAD_SIGNATURE, "github", [SECRET], headers, body + b" ", NOW_S)
    no_delivery = {k: v for k, v in headers.items() if k != "x-github-delivery"}
    assert "X-GitHub-Delivery" in rejected(Outcome.BAD_BODY, "github", [SECRET], no_delivery, body, NOW_S)


# -- slack ----------------------------------------------------------------------------------


def slack_headers(body: bytes, t: int = NOW_S, **extra) -> dict:
    return {
        "x-slack-signature": "v0=" + _hex(SECRET, f"v0:{t}:".encode() + body),
        "x-slack-request-timestamp": str(t),
    } | extra


def test_slack_takes_its_signature_reads_event_id_and_type_and_answers_url_verification():
    body = b'{"type": "event_callback", "event_id": "Ev1", "event": {"type": "app_mention"}}'
    verified = verify("slack", [SECRET], slack_headers(body), body, NOW_S - 300)
    assert (verified.delivery_id, verified.event) == ("Ev1", "app_mention")
    challenge = b'{"type": "url_verification", "challenge": "abc"}'
    assert verify("slack", [SECRET], slack_headers(challenge), challenge, NOW_S).challenge == "abc"
    assert "300 s" in rejected(Outcome.STALE, "slack", [SECRET], slack_headers(body, NOW_S - 301), body, NOW_S)
    unsigned = {"x-slack-request-timestamp": str(NOW_S)}
    rejected(Outcome.BAD_SIGNATURE, "slack", [SECRET], unsigned, challenge, NOW_S)


def test_a_slash_command_has_no_event_id_its_delivery_id_is_a_hash_of_timestamp_and_body():
    body = b"command=%2Fdeploy&text=prod&user_id=U1"
    form = {"content-type": "application/x-www-form-urlencoded"}
    first = verify("slack", [SECRET], slack_headers(body, **form), body, NOW_S)
    later = verify("slack", [SECRET], slack_headers(body, NOW_S + 1, **form), body, NOW_S)
    assert first.event == "/deploy" and first.delivery_id.startswith("h-") and len(first.delivery_id) == 34
    assert first.delivery_id == verify("slack", [SECRET], slack_headers(body, **form), body, NOW_S).delivery_id
    assert later.delivery_id != first.delivery_id


# -- standard webhooks ----------------------------------------------------------------------


def standard_headers(body: bytes, secret: str, at: datetime, msg_id: str = "msg_1") -> dict:
    signature = Webhook(secret).sign(msg_id, at, body.decode())
    return {"webhook-id": msg_id, "webhook-timestamp": str(int(at.timestamp())), "webhook-signature": signature}


def test_standard_webhooks_verify_with_either_secret_of_a_rotation():
    body = b'{"type": "user.created", "data": {}}'
    now = datetime.now(UTC)
    for secret in (STD_A, STD_B):
        verified = verify("standard", [STD_A, STD_B], standard_headers(body, secret, now), body, now.timestamp())
        assert (verified.delivery_id, verified.event) == ("msg_1", "user.created")
    # a sender mid-rotation signs with both keys: one header, two signatures
    both = standard_headers(body, STD_A, now)
    both["webhook-signature"] += " " + standard_headers(body, STD_B, now)["webhook-signature"]
    assert verify("standard", [STD_B], both, body, now.timestamp()).delivery_id == "msg_1"
    other = "whsec_" + base64.b64encode(b"not configured").decode()
    rejected(Outcome.BAD_SIGNATURE, "standard", [STD_A, STD_B], standard_headers(body, other, now), body, 0)
    old = standard_headers(body, STD_A, datetime.fromtimestamp(now.timestamp() - 600, UTC))
    assert "too old" in rejected(Outcome.STALE, "standard", [STD_A], old, body, 0)
    assert "missing" in rejected(Outcome.BAD_SIGNATURE, "standard", [STD_A], {}, body, 0)


# -- configuration --------------------------------------------------------------------------


def test_the_secrets_file_lists_endpoints_and_secrets_and_its_errors_never_show_a_secret(tmp_path):
    text = "# comment\nstripe/stripe whsec_a whsec_b\n\ngithub/repo-a gh1  # trailing\nstripe/stripe whsec_c\n"
    assert parse_secrets(text, "f") == {
        ("stripe", "stripe"): ["whsec_a", "whsec_b", "whsec_c"],
        ("github", "repo-a"): ["gh1"],
    }
    (tmp_path / "secrets").write_text("slack/slack s1\n")
    found = load_webhook_secrets(tmp_path / "secrets", {"LOGLOOM_WEBHOOK_SECRETS": "github/b g2; github/b g3"})
    assert found == {("slack", "slack"): ["s1"], ("github", "b"): ["g2", "g3"]}
    with pytest.raises(LogloomError, match="line 1: unknown webhook source 'paypal'") as caught:
        parse_secrets("paypal/x hunter2", "f")
    assert "hunter2" not in str(caught.value)
    with pytest.raises(LogloomError, match="SOURCE/NAME SECRET"):
        parse_secrets("stripe/x", "f")
    with pytest.raises(LogloomError, match="cannot read the webhook secrets file"):
        load_webhook_secrets(tmp_path / "missing", {})


def test_endpoints_join_declared_and_configured_secrets_and_read_env_secrets_when_the_server_starts():
    reg = Registry()

    @reg.workflow(triggers=[webhook("github", name="repo-a", event="push", secret="env:GH_SECRET")])
    async def pushed(ctx: WorkflowContext, ref: str) -> None: ...

    @reg.workflow(webhook=True, webhook_secret=STD_A)
    async def hooked(ctx: WorkflowContext) -> None: ...

    @reg.workflow(triggers=[webhook("slack")])
    async def unsigned(ctx: WorkflowContext) -> None: ...

    assert "GH_SECRET" not in repr(pushed.triggers) and STD_A not in repr(hooked.triggers)
    got = endpoints(reg, {("github", "repo-a"): ["from-file"]}, {"GH_SECRET": "from-env"})
    assert got == {("github", "repo-a"): ["from-file", "from-env"], ("standard", "hooked"): [STD_A]}
    with pytest.raises(LogloomError, match="standard/x is not a Standard Webhooks secret"):
        endpoints(None, {("standard", "x"): ["not base64 !"]})
    with pytest.raises(LogloomError, match="unknown webhook source"):
        webhook("paypal")
    with pytest.raises(LogloomError, match="webhook_secret= goes with webhook=True"):
        reg.workflow(webhook_secret="s")


def test_only_webhook_endpoints_skip_the_bearer_tokens():
    assert is_public("/v1/webhooks/stripe/stripe") and is_public("/healthz")
    assert not is_public("/v1/webhooks/stripe/../../runs") and not is_public("/v1/webhooks/a/b/c")
    assert not is_public("/v1/runs") and not is_public("/metrics")


# -- the envelope and the input -------------------------------------------------------------


def test_the_envelope_keeps_the_body_byte_for_byte_and_drops_credentials():
    for body in (b'{"a":  1,\n"b": "\\u00e9"}', "é".encode(), b"\xff\xfe not utf-8"):
        value = encode_envelope(
            source="github", name="x", delivery_id="d", event="push", received_at_ms=NOW_S * 1000,
            headers=[("X-Hub-Signature-256", "sha256=.."), ("Authorization", "Bearer t"), ("Cookie", "c")],
            body=body,
        )  # fmt: skip
        envelope = decode_envelope(value)
        assert envelope["body"] == body and envelope["headers"] == [["x-hub-signature-256", "sha256=.."]]
    with pytest.raises(ValueError, match="not a webhook envelope"):
        decode_envelope(json.dumps({"id": 1}).encode())


def test_a_delivery_binds_a_webhook_delivery_a_model_one_parameter_or_parameters_by_name():
    reg = Registry()
    envelope = decode_envelope(
        encode_envelope(
            source="stripe",
            name="stripe",
            delivery_id="evt_1",
            event="invoice.paid",
            received_at_ms=NOW_S * 1000,
            headers=[("content-type", "application/json")],
            body=b'{"id": "evt_1", "type": "invoice.paid", "n": 2}',
        )  # fmt: skip
    )
    delivery = delivery_of(envelope)
    assert delivery.body == {"id": "evt_1", "type": "invoice.paid", "n": 2} and delivery.raw.startswith('{"id"')

    @reg.workflow
    async def whole(ctx: WorkflowContext, d: WebhookDelivery) -> None: ...

    @reg.workflow
    async def one(ctx: WorkflowContext, event: dict) -> None: ...

    @reg.workflow
    async def by_name(ctx: WorkflowContext, id: str, n: int) -> None: ...

    assert whole.binder.bind(webhook_payload(whole.binder, delivery))["d"].delivery_id == "evt_1"
    assert one.binder.bind(webhook_payload(one.binder, delivery)) == {"event": delivery.body}
    assert by_name.binder.bind(webhook_payload(by_name.binder, delivery)) == {"id": "evt_1", "n": 2}
    assert webhook("stripe", event="invoice.*").matches("stripe", "stripe", "invoice.paid")
    assert not webhook("stripe", event="invoice.*").matches("stripe", "stripe", "charge.failed")
    assert not webhook("stripe", name="a").matches("stripe", "b", "invoice.paid")


# -- docs/webhooks.md -----------------------------------------------------------------------

DOC = Path(__file__).resolve().parents[2] / "docs" / "webhooks.md"


def _blocks(kind: str) -> list[str]:
    return re.findall(rf"```{kind}\n(.*?)```", DOC.read_text(), re.S)


def test_the_docs_declarations_register_their_triggers_and_the_secrets_example_parses():
    declared = (
        _blocks("python")[0]
        + "\nfrom engine import registry\n"
        + ("print(sorted(t.label + ' ' + w.name for w in registry.workflows.values() for t in w.triggers))")
    )
    root = DOC.parents[1]
    env = {**os.environ, "PYTHONPATH": str(root)}
    out = subprocess.run(
        [sys.executable, "-c", declared], capture_output=True, text=True, timeout=60, check=True, cwd=root, env=env
    )
    assert out.stdout.strip() == str(
        [
            "webhook:github/repo-a[push] build",
            "webhook:standard/orders_hook orders_hook",
            "webhook:stripe/stripe[payment_intent.succeeded] fulfil",
        ]
    )
    example = parse_secrets(_blocks("text")[0], "docs/webhooks.md")
    assert set(endpoints(None, example)) == {("stripe", "stripe"), ("github", "repo-a"), ("standard", "orders_hook")}
