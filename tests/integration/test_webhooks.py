"""Signed webhooks (``connectors/webhooks``, docs/webhooks.md) on a real uvicorn server, on
both logs: Stripe, GitHub, Slack and Standard Webhooks deliveries, signed here the way each
provider documents it, start one run each; the topic holds each delivery byte for byte; a
retry or a second copy starts nothing; refused deliveries write nothing and are counted."""

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import logging
import re
import signal
import time
import uuid
from datetime import UTC, datetime

import httpx
from helpers import assert_eventually, run_cli, spawn
from standardwebhooks.webhooks import Webhook

from connectors.http import ErrorCode, create_app, hash_token
from connectors.http.server import make_server
from engine import ExecutionNotFoundError, WebhookDelivery, WorkflowContext, names, webhook
from engine.workflow import Registry

STRIPE_SECRET = "whsec_stripe_test_secret"
GITHUB_SECRET = "github-hook-secret"
SLACK_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
STANDARD_OLD = "whsec_" + base64.b64encode(b"the old standard webhooks key").decode()
STANDARD_NEW = "whsec_" + base64.b64encode(b"the new standard webhooks key").decode()

reg = Registry()


@reg.workflow(triggers=[webhook("stripe", event="payment_intent.succeeded", secret=STRIPE_SECRET)])
async def wh_paid(ctx: WorkflowContext, delivery: WebhookDelivery) -> dict:
    return {"id": delivery.delivery_id, "amount": delivery.body["data"]["object"]["amount"], "event": delivery.event}


@reg.workflow(triggers=[webhook("github", name="repo-a", event="push", secret=GITHUB_SECRET)])
async def wh_pushed(ctx: WorkflowContext, ref: str, commits: list) -> str:  # the body's keys by name
    return f"{ref}:{len(commits)}"


@reg.workflow(triggers=[webhook("slack", secret=SLACK_SECRET)])
async def wh_slack(ctx: WorkflowContext, body: dict) -> str:  # one parameter: the whole body
    return body["event"]["text"]


@reg.workflow(webhook=True, webhook_secret=[STANDARD_OLD, STANDARD_NEW])
async def wh_standard(ctx: WorkflowContext, delivery: WebhookDelivery) -> dict:
    return {"type": delivery.body["type"], "raw": delivery.raw}


@contextlib.asynccontextmanager
async def served(app):
    """The app on a real uvicorn server on 127.0.0.1 (port 0); an httpx client for it."""
    server = make_server(app, "127.0.0.1", 0, log_level="warning", access_log=False)
    task = asyncio.create_task(server.serve())
    await assert_eventually(lambda: server.started or task.done(), timeout=20, message="uvicorn started")
    if task.done():
        task.result()
    host, port = server.servers[0].sockets[0].getsockname()[:2]
    try:
        async with httpx.AsyncClient(base_url=f"http://{host}:{port}", timeout=60) as http:
            yield http
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 20)


def error_of(response: httpx.Response, status: int, code: ErrorCode) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and body["error"]["code"] == code, body
    return body["error"]


# -- signing, as each provider documents it -------------------------------------------------


def _hex(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def stripe_post(body: bytes, at_s: int | None = None, secret: str = STRIPE_SECRET) -> dict:
    t = int(time.time()) if at_s is None else at_s
    return {"Stripe-Signature": f"t={t},v1={_hex(secret, f'{t}.'.encode() + body)}", "Content-Type": "application/json"}


def github_post(body: bytes, delivery: str, event: str = "push") -> dict:
    return {
        "X-Hub-Signature-256": "sha256=" + _hex(GITHUB_SECRET, body),
        "X-GitHub-Delivery": delivery,
        "X-GitHub-Event": event,
        "Content-Type": "application/json",
    }


def slack_post(body: bytes, at_s: int | None = None) -> dict:
    t = int(time.time()) if at_s is None else at_s
    signature = "v0=" + _hex(SLACK_SECRET, f"v0:{t}:".encode() + body)
    return {"X-Slack-Signature": signature, "X-Slack-Request-Timestamp": str(t), "Content-Type": "application/json"}


def standard_post(body: bytes, msg_id: str, secret: str) -> dict:
    now = datetime.now(UTC)
    signature = Webhook(secret).sign(msg_id, now, body.decode())
    return {"webhook-id": msg_id, "webhook-timestamp": str(int(now.timestamp())), "webhook-signature": signature}


# -- reading back ---------------------------------------------------------------------------


async def topic_values(log, source: str) -> list[tuple[bytes, dict]]:
    """Every record on a source's webhook topic: (key, envelope)."""
    topic = names.webhook_topic(log.namespace, source)
    if not await log.topic_partitions(topic):
        return []
    reader = log.topic_reader(topic)
    reader.assign(0, 0)
    out, empty = [], 0
    try:
        while empty < 2:
            entries = await reader.poll(0.5)
            empty = 0 if entries else empty + 1
            out.extend((e.key, json.loads(e.value)) for e in entries)
    finally:
        await reader.close()
    return out


async def result_of(client, execution_id: str):
    async def exists():
        try:
            return await client.get_execution(execution_id)
        except ExecutionNotFoundError:
            return None

    await assert_eventually(exists, timeout=60, message=f"run {execution_id} exists")
    return await (await client.handle(execution_id)).result(timeout=60)


def run_id(workflow: str, source: str, name: str, delivery_id: str) -> str:
    return names.webhook_execution_id(workflow, source, name, delivery_id)


def deliveries(app, source: str, name: str, outcome: str) -> float:
    labels = {"source": source, "name": name, "outcome": outcome}
    return app.state.metrics.get_sample_value("logloom_webhook_deliveries_total", labels) or 0.0


# -- the tests ------------------------------------------------------------------------------


async def test_each_source_starts_one_run_with_its_body_kept_byte_for_byte_and_a_retry_starts_nothing(harness):
    await harness.worker(registry=reg)
    client = await harness.client()
    log = await harness.log()
    app = create_app(client, tokens=None, registry=reg)
    evt = f"evt_{uuid.uuid4().hex[:12]}"
    stripe = json.dumps(
        {"id": evt, "type": "payment_intent.succeeded", "data": {"object": {"amount": 4200}}}, indent=1
    ).encode()
    github, gh_id = (
        b'{"ref": "refs/heads/main", "commits": [{"id": "c1"}, {"id": "c2"}], "pusher": {}}',
        str(uuid.uuid4()),
    )
    slack_id = f"Ev{uuid.uuid4().hex[:8]}"
    slack = json.dumps({"type": "event_callback", "event_id": slack_id, "event": {"type": "message", "text": "hé"}})
    slack = slack.encode()
    standard, msg_id = b'{"type": "order.paid",  "data": {"n": 1}}', f"msg_{uuid.uuid4().hex[:10]}"
    posts = {  # source, name -> (body, headers, delivery id, workflow, expected result)
        ("stripe", "stripe"): (stripe, stripe_post(stripe), evt, "wh_paid", {"id": evt, "amount": 4200,
                               "event": "payment_intent.succeeded"}),
        ("github", "repo-a"): (github, github_post(github, gh_id), gh_id, "wh_pushed", "refs/heads/main:2"),
        ("slack", "slack"): (slack, slack_post(slack), slack_id, "wh_slack", "hé"),
        ("standard", "wh_standard"): (standard, standard_post(standard, msg_id, STANDARD_NEW), msg_id, "wh_standard",
                                      {"type": "order.paid", "raw": standard.decode()}),
    }  # fmt: skip
    async with served(app) as http:
        for (source, name), (body, headers, delivery_id, workflow, expected) in posts.items():
            answer = await http.post(f"/v1/webhooks/{source}/{name}", content=body, headers=headers)
            assert answer.status_code == 200, answer.text
            assert answer.json()["duplicate"] is False and answer.json()["delivery_id"] == delivery_id
            assert await result_of(client, run_id(workflow, source, name, delivery_id)) == expected
            again = await http.post(f"/v1/webhooks/{source}/{name}", content=body, headers=headers)
            assert again.status_code == 200 and again.json()["duplicate"] is True, again.text
            assert deliveries(app, source, name, "accepted") == 1 and deliveries(app, source, name, "duplicate") == 1

    # A restarted server has forgotten the ids: the retry is written again, and starts nothing.
    restarted = create_app(client, tokens=None, registry=reg)
    async with served(restarted) as http:
        body, headers, *_ = posts[("stripe", "stripe")]
        answer = await http.post("/v1/webhooks/stripe/stripe", content=body, headers=headers)
        assert answer.status_code == 200 and answer.json()["duplicate"] is False, answer.text

    for (source, name), (body, _, delivery_id, workflow, _) in posts.items():  # noqa: B007
        records = await topic_values(log, source)
        assert len(records) == (2 if source == "stripe" else 1), records
        key, envelope = records[0]
        assert key == delivery_id.encode() and envelope["delivery_id"] == delivery_id and envelope["name"] == name
        assert envelope["body"].encode("utf-8") == body  # byte for byte, as posted
        signed_by = {"stripe": "stripe-signature", "github": "x-hub-signature-256", "slack": "x-slack-signature"}
        sent = {k.lower(): v for k, v in posts[(source, name)][1].items()}
        kept = dict(envelope["headers"])  # to check the signature again, or to replay
        header = signed_by.get(source, "webhook-signature")
        assert kept[header] == sent[header], kept
        runs = await client.list_executions(workflow=workflow)
        assert [r.execution_id for r in runs] == [run_id(workflow, source, name, delivery_id)], runs


async def test_refused_deliveries_answer_4xx_are_counted_logged_and_write_nothing(harness, caplog):
    caplog.set_level(logging.INFO, logger="connectors.webhooks")
    await harness.worker(registry=reg)
    client = await harness.client()
    log = await harness.log()
    token = "webhook-test-token"
    app = create_app(client, tokens=[hash_token(token)], registry=reg)
    evt = f"evt_{uuid.uuid4().hex[:12]}"
    paid = json.dumps({"id": evt, "type": "payment_intent.succeeded", "data": {"object": {"amount": 1}}}).encode()
    async with served(app) as http:  # no bearer token: the signature is the auth
        forged = await http.post("/v1/webhooks/stripe/stripe", content=paid, headers=stripe_post(paid, secret="nope"))
        assert "no v1 signature" in error_of(forged, 401, ErrorCode.BAD_SIGNATURE)["message"]
        unsigned = await http.post("/v1/webhooks/github/repo-a", content=b"{}", headers={"X-GitHub-Event": "push"})
        assert "X-Hub-Signature-256" in error_of(unsigned, 401, ErrorCode.BAD_SIGNATURE)["message"]
        old = await http.post(
            "/v1/webhooks/stripe/stripe", content=paid, headers=stripe_post(paid, at_s=int(time.time()) - 3600)
        )
        assert "over 300 s" in error_of(old, 400, ErrorCode.STALE_TIMESTAMP)["message"]
        old_slack = b'{"type": "event_callback", "event_id": "Ev-old", "event": {"type": "message"}}'
        replayed = await http.post(
            "/v1/webhooks/slack/slack", content=old_slack, headers=slack_post(old_slack, int(time.time()) - 301)
        )
        error_of(replayed, 400, ErrorCode.STALE_TIMESTAMP)
        not_stripe = b'["not", "an", "event"]'
        bad_body = await http.post("/v1/webhooks/stripe/stripe", content=not_stripe, headers=stripe_post(not_stripe))
        assert "JSON object" in error_of(bad_body, 400, ErrorCode.INVALID_INPUT)["message"]
        unknown = await http.post("/v1/webhooks/stripe/other-account", content=paid, headers=stripe_post(paid))
        assert "stripe/other-account" in error_of(unknown, 404, ErrorCode.NOT_FOUND)["message"]
        nowhere = await http.post("/v1/webhooks/paypal/x", content=paid)
        error_of(nowhere, 404, ErrorCode.NOT_FOUND)

        assert deliveries(app, "stripe", "stripe", "bad_signature") == 1
        assert deliveries(app, "github", "repo-a", "bad_signature") == 1
        assert deliveries(app, "stripe", "stripe", "stale") == 1 and deliveries(app, "slack", "slack", "stale") == 1
        assert deliveries(app, "stripe", "stripe", "bad_body") == 1
        assert deliveries(app, "stripe", "-", "unknown_endpoint") == 1
        assert deliveries(app, "-", "-", "unknown_endpoint") == 1
        refusals = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
        assert f"webhook stripe/stripe delivery '{evt}' refused (bad_signature)" in refusals[0], refusals
        assert len(refusals) == 7 and all(secret not in caplog.text for secret in (STRIPE_SECRET, SLACK_SECRET))

        # Slack's url_verification is answered once signed, and stored nowhere.
        secret_word = "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
        challenge = json.dumps({"token": "t", "challenge": secret_word, "type": "url_verification"}).encode()
        answered = await http.post("/v1/webhooks/slack/slack", content=challenge, headers=slack_post(challenge))
        assert answered.status_code == 200 and answered.json() == {"challenge": secret_word}

        # Key rotation: the old secret still verifies (the new one did in the test above).
        rotated = b'{"type": "order.paid", "data": {}}'
        msg_id = f"msg_{uuid.uuid4().hex[:10]}"
        with_old = await http.post(
            "/v1/webhooks/standard/wh_standard", content=rotated, headers=standard_post(rotated, msg_id, STANDARD_OLD)
        )
        assert with_old.status_code == 200, with_old.text
        other_key = "whsec_" + base64.b64encode(b"a key nobody configured").decode()
        wrong = await http.post(
            "/v1/webhooks/standard/wh_standard", content=rotated, headers=standard_post(rotated, "m2", other_key)
        )
        error_of(wrong, 401, ErrorCode.BAD_SIGNATURE)

        # An event type no trigger takes is kept, and starts nothing; a matching one after it does.
        created = json.dumps({"id": f"{evt}-c", "type": "payment_intent.created", "data": {}}).encode()
        ignored = await http.post("/v1/webhooks/stripe/stripe", content=created, headers=stripe_post(created))
        assert ignored.status_code == 200 and ignored.json()["event"] == "payment_intent.created"
        taken = await http.post("/v1/webhooks/stripe/stripe", content=paid, headers=stripe_post(paid))
        assert taken.status_code == 200, taken.text
        assert (await result_of(client, run_id("wh_paid", "stripe", "stripe", evt)))["amount"] == 1

        metrics = await http.get("/metrics")
        assert metrics.status_code == 401  # behind the tokens, like the API
        metrics = await http.get("/metrics", headers={"Authorization": f"Bearer {token}"})
        assert 'logloom_webhook_deliveries_total{name="stripe",outcome="stale",source="stripe"} 1.0' in metrics.text

    assert [env["delivery_id"] for _, env in await topic_values(log, "stripe")] == [f"{evt}-c", evt]
    assert await topic_values(log, "slack") == [] and await topic_values(log, "github") == []
    assert [env["delivery_id"] for _, env in await topic_values(log, "standard")] == [msg_id]
    assert [r.execution_id for r in await client.list_executions(workflow="wh_paid")] == [
        run_id("wh_paid", "stripe", "stripe", evt)
    ]
    assert await client.list_executions(workflow="wh_slack") == []


async def test_deliveries_written_while_no_worker_ran_start_their_runs_once_one_does(harness):
    """The topic is the buffer: a server without a worker takes deliveries; a worker that
    starts later starts their runs, one per delivery, however many copies the topic holds."""
    client = await harness.client()
    evt = f"evt_{uuid.uuid4().hex[:12]}"
    body = json.dumps({"id": evt, "type": "payment_intent.succeeded", "data": {"object": {"amount": 7}}}).encode()
    for _ in range(2):  # two servers, each without the other's memory: two copies
        async with served(create_app(client, tokens=None, registry=reg)) as http:
            answer = await http.post("/v1/webhooks/stripe/stripe", content=body, headers=stripe_post(body))
            assert answer.status_code == 200 and answer.json()["duplicate"] is False, answer.text
    await harness.worker(registry=reg)
    assert (await result_of(client, run_id("wh_paid", "stripe", "stripe", evt)))["amount"] == 7

    # Written again as docs/webhooks.md shows ("Replaying deliveries"): it starts nothing new.
    (_, envelope), _ = await topic_values(await harness.log(), "stripe")
    await client.publish_webhook(
        source=envelope["source"],
        name=envelope["name"],
        delivery_id=envelope["delivery_id"],
        event=envelope["event"],
        headers=envelope["headers"],
        body=envelope["body"].encode(),
        received_at_ms=envelope["received_at_ms"],
    )
    marker = json.dumps({"id": f"{evt}-m", "type": "payment_intent.succeeded", "data": {"object": {"amount": 8}}})
    await client.publish_webhook(  # after it on the topic: once its run exists, the copy was routed
        source="stripe", name="stripe", delivery_id=f"{evt}-m", event="payment_intent.succeeded",
        headers=[], body=marker.encode(),
    )  # fmt: skip
    assert (await result_of(client, run_id("wh_paid", "stripe", "stripe", f"{evt}-m")))["amount"] == 8
    assert len(await topic_values(await harness.log(), "stripe")) == 4
    assert sorted(r.execution_id for r in await client.list_executions(workflow="wh_paid")) == [
        run_id("wh_paid", "stripe", "stripe", evt),
        run_id("wh_paid", "stripe", "stripe", f"{evt}-m"),
    ]


def test_logloom_serve_takes_its_webhook_secrets_from_a_file_and_refuses_a_bad_one(tmp_path):
    """``logloom serve --webhook-secrets``, a real process on the embedded log, with
    examples/webhooks.py: a signed GitHub push starts its run; a bad file stops the server."""
    secrets = tmp_path / "secrets.txt"
    secrets.write_text(f"# docs/webhooks.md\ngithub/repo-a {GITHUB_SECRET}\n")
    log_file = tmp_path / "serve.log"
    args = ["serve", "examples/webhooks.py", "--no-auth", "--port", "0", "--data-dir", str(tmp_path / "data")]
    server = spawn(*args, "--webhook-secrets", str(secrets), log_file=log_file)
    try:
        deadline = time.monotonic() + 60
        port = None
        while port is None:
            assert server.poll() is None and time.monotonic() < deadline, log_file.read_text()
            found = (
                re.search(r"HTTP API on http://127\.0\.0\.1:(\d+)", log_file.read_text()) if log_file.exists() else None
            )
            port = int(found.group(1)) if found else None
            time.sleep(0.1)
        body, delivery_id = b'{"ref": "refs/heads/main", "commits": [{"id": "a"}], "repository": {}}', str(uuid.uuid4())
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as http:
            answer = http.post("/v1/webhooks/github/repo-a", content=body, headers=github_post(body, delivery_id))
            assert answer.status_code == 200 and answer.json()["delivery_id"] == delivery_id, answer.text
            run = run_id("on_push", "github", "repo-a", delivery_id)
            deadline = time.monotonic() + 60
            while (result := http.get(f"/v1/runs/{run}/result", params={"timeout": 30})).status_code == 404:
                assert time.monotonic() < deadline, result.text
                time.sleep(0.1)
            assert result.json()["result"] == {"ref": "refs/heads/main", "commits": 1}, result.text
            # Stripe's secret is read from $STRIPE_WEBHOOK_SECRET, unset here: that endpoint refuses all.
            assert http.post("/v1/webhooks/stripe/stripe", content=b"{}").status_code == 404
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=60) == 0
        assert GITHUB_SECRET not in log_file.read_text()
        assert "webhook endpoint stripe/stripe (of on_payment) has no secret" in log_file.read_text()
    finally:
        if server.poll() is None:
            server.kill()
    secrets.write_text(f"github {GITHUB_SECRET}\n")
    refused = run_cli(*args, "--webhook-secrets", str(secrets))
    assert refused.returncode == 2 and "line 1: expected 'SOURCE/NAME SECRET" in refused.stderr, refused.stderr
    assert GITHUB_SECRET not in refused.stderr
