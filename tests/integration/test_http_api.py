"""The HTTP API (``connectors/http``, issue #21) on a real uvicorn server on 127.0.0.1, on
both logs, called with httpx: runs, waits, idempotency, listings, commands, events,
schedules, queues, Server-Sent Events with Last-Event-ID, auth, and the one error shape.

The workflows live in a registry of their own, given to the worker and to the app (which
then checks inputs before anything is appended)."""

import asyncio
import contextlib
import json
import uuid

import httpx
from helpers import EngineHarness, assert_eventually, in_status

from connectors.http import ErrorCode, create_app, hash_token
from connectors.http.server import make_server
from engine import SchedulePayload, TerminalError, WorkflowContext, queue, schedules
from engine.workflow import Registry

reg = Registry()
QUEUE = queue(f"hq{uuid.uuid4().hex[:8]}", concurrency_limit=2)


async def add(a: int, b: int) -> int:
    return a + b


async def bump(x: int) -> int:
    return x + 1


@reg.workflow
async def http_add(ctx: WorkflowContext, a: int, b: int) -> int:
    return await ctx.step.run("add", add, a, b)


@reg.workflow
async def http_three(ctx: WorkflowContext, x: int) -> int:
    for name in ("a", "b", "c"):
        x = await ctx.step.run(name, bump, x)
    return x


@reg.workflow
async def http_fail(ctx: WorkflowContext) -> None:
    raise TerminalError("card declined")


@reg.workflow
async def http_approval(ctx: WorkflowContext, order: str) -> dict:
    await ctx.step.run("prepare", bump, 1)
    answer = (await ctx.step.suspend("approval", {"question": f"ship {order}?"})).data
    return {"order": order, "answer": answer}


@reg.workflow
async def http_event(ctx: WorkflowContext, topic: str) -> dict:
    return (await ctx.step.wait_for_event("wait", topic=topic)).data


@reg.workflow
async def http_streamer(ctx: WorkflowContext, words: list[str]) -> int:
    async def speak() -> int:
        for word in words:
            await ctx.stream.emit("text_delta", {"text": word})
        await ctx.stream.flush()
        return len(words)

    return await ctx.step.run("speak", speak)


@reg.workflow(queue=QUEUE)
async def http_queued(ctx: WorkflowContext, n: int) -> int:
    return await ctx.step.run("work", bump, n)


@reg.workflow
async def http_tick(ctx: WorkflowContext, input: SchedulePayload) -> str:
    return input.key


TOKEN = "s3cret-token"


@contextlib.asynccontextmanager
async def served(app, token: str | None = None):
    """The app on a real uvicorn server on 127.0.0.1 (port 0), in this event loop; an
    httpx client for it (sending ``token`` as a bearer token)."""
    server = make_server(app, "127.0.0.1", 0, log_level="warning", access_log=False)
    task = asyncio.create_task(server.serve())
    await assert_eventually(lambda: server.started or task.done(), timeout=20, message="uvicorn started")
    if task.done():
        task.result()
    host, port = server.servers[0].sockets[0].getsockname()[:2]
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    try:
        async with httpx.AsyncClient(base_url=f"http://{host}:{port}", headers=headers, timeout=60) as http:
            yield http
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 20)


@contextlib.asynccontextmanager
async def api(harness, *, worker: bool = True, tokens: list[str] | None = None, token: str | None = None, **options):
    if worker:
        await harness.worker(registry=reg)
    client = await harness.client()
    async with served(create_app(client, tokens=tokens, registry=reg, **options), token) as http:
        yield http, client


def error_of(response: httpx.Response, status: int, code: ErrorCode) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and body["error"]["code"] == code, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return body["error"]


async def sse(
    http: httpx.AsyncClient, url: str, headers: dict | None = None, timeout: float = 60, stop_after: int | None = None
) -> list[dict]:
    """The events of an SSE stream, read until the server ends it (or until ``stop_after``
    events, then the reader hangs up): each {id?, event, data}."""
    events: list[dict] = []

    async def read() -> None:
        async with http.stream("GET", url, headers=headers or {}) as response:
            assert response.status_code == 200, await response.aread()
            assert response.headers["content-type"].startswith("text/event-stream")
            current: dict = {}
            async for line in response.aiter_lines():
                if not line:
                    if "data" in current:
                        current["data"] = json.loads(current["data"])
                        events.append(current)
                        if len(events) == stop_after:
                            return
                    current = {}
                elif not line.startswith(":"):
                    field, _, value = line.partition(":")
                    current[field] = value.removeprefix(" ")

    await asyncio.wait_for(read(), timeout)
    return events


# -- runs ---------------------------------------------------------------------------------


async def test_invoke_and_wait_submit_then_result_and_a_failed_run_is_an_answer(harness):
    async with api(harness) as (http, _):
        done = await http.post("/v1/workflows/http_add/runs?wait=true&timeout=60", json={"input": {"a": 2, "b": 3}})
        assert done.status_code == 200, done.text
        assert done.json()["status"] == "completed" and done.json()["result"] == 5
        assert done.headers["location"] == f"/v1/runs/{done.json()['execution_id']}"

        started = await http.post("/v1/workflows/http_three/runs", json={"input": {"x": 1}, "user_id": "ana"})
        assert started.status_code == 202, started.text
        execution_id = started.json()["execution_id"]
        assert started.json()["status_url"] == f"/v1/runs/{execution_id}"
        result = await http.get(f"/v1/runs/{execution_id}/result", params={"timeout": 60})
        assert result.status_code == 200 and result.json()["result"] == 4 and result.json()["user_id"] == "ana"
        got = await http.get(f"/v1/runs/{execution_id}")
        assert got.status_code == 200 and got.json()["status"] == "completed"
        assert got.json()["execution_id"] == execution_id and got.json()["workflow"] == "http_three"

        failed = await http.post("/v1/workflows/http_fail/runs", params={"wait": "true", "timeout": 60})
        assert failed.status_code == 200, failed.text
        assert failed.json()["status"] == "failed" and "card declined" in failed.json()["error"]["message"]

        parked = await http.post("/v1/workflows/http_approval/runs", json={"input": {"order": "o1"}})
        parked_id = parked.json()["execution_id"]
        late = await http.get(f"/v1/runs/{parked_id}/result", params={"timeout": 0.3})
        assert error_of(late, 504, ErrorCode.TIMEOUT)["execution_id"] == parked_id


async def test_without_a_registry_a_run_is_started_by_name_and_the_workers_judge_it(harness):
    await harness.worker(registry=reg)
    client = await harness.client()
    async with served(create_app(client, tokens=None)) as http:
        done = await http.post("/v1/workflows/http_add/runs?wait=true", json={"input": {"a": 1, "b": 2}})
        assert done.status_code == 200 and done.json()["result"] == 3
        unknown = await http.post("/v1/workflows/no_such_workflow/runs?wait=true", json={"input": 1})
        assert unknown.status_code == 200 and unknown.json()["status"] == "failed", unknown.text


async def test_an_idempotency_key_names_one_run_and_another_input_under_it_is_a_conflict(harness):
    async with api(harness) as (http, client):
        key = {"Idempotency-Key": f"order-{uuid.uuid4().hex[:6]}"}
        body = {"input": {"a": 1, "b": 1}}
        first = await http.post("/v1/workflows/http_add/runs", json=body, headers=key)
        again = await http.post("/v1/workflows/http_add/runs?wait=true&timeout=60", json=body, headers=key)
        assert first.status_code == 202 and first.json()["execution_id"] == key["Idempotency-Key"]
        assert again.status_code == 200 and again.json()["execution_id"] == key["Idempotency-Key"]
        assert again.json()["result"] == 2

        other = await http.post("/v1/workflows/http_add/runs", json={"input": {"a": 1, "b": 2}}, headers=key)
        assert error_of(other, 409, ErrorCode.CONFLICT)["execution_id"] == key["Idempotency-Key"]
        both = await http.post(
            "/v1/workflows/http_add/runs", json={**body, "execution_id": "something-else"}, headers=key
        )
        error_of(both, 400, ErrorCode.INVALID_INPUT)
        runs = await client.list_executions(workflow="http_add")
        assert [r.execution_id for r in runs] == [key["Idempotency-Key"]], "one run for the key"

        slashed = "reports/2026-11@nightly"  # ids may hold '/', as a scheduled run's do
        made = await http.post("/v1/workflows/http_add/runs?wait=true", json=body, headers={"Idempotency-Key": slashed})
        assert made.headers["location"] == "/v1/runs/reports%2F2026-11%40nightly"
        assert (await http.get(made.headers["location"])).json()["execution_id"] == slashed
        assert (await http.get(f"/v1/runs/{slashed}/history")).json()["execution_id"] == slashed


async def test_list_with_filters_and_pages_and_a_runs_history(harness):
    async with api(harness) as (http, _):
        ids = []
        for i in range(5):
            user = "bo" if i % 2 else "ana"
            response = await http.post(
                "/v1/workflows/http_three/runs?wait=true", json={"input": {"x": i}, "user_id": user}
            )
            assert response.status_code == 200, response.text
            ids.append(response.json()["execution_id"])
        await http.post("/v1/workflows/http_add/runs?wait=true", json={"input": {"a": 0, "b": 0}})

        pages, token = [], None
        while True:
            params = {"workflow": "http_three", "limit": 2} | ({"page_token": token} if token else {})
            page = (await http.get("/v1/runs", params=params)).json()
            pages.append([r["execution_id"] for r in page["runs"]])
            token = page["next_page_token"]
            if token is None:
                break
        assert [len(p) for p in pages] == [2, 2, 1] and sum(pages, []) == ids, "oldest first, pages in order"
        newest = (await http.get("/v1/runs", params={"workflow": "http_three", "order": "newest", "limit": 3})).json()
        token = newest["next_page_token"]
        older = await http.get("/v1/runs", params={"workflow": "http_three", "order": "newest", "page_token": token})
        newest_ids = [r["execution_id"] for r in newest["runs"] + older.json()["runs"]]
        assert newest_ids == ids[::-1], "?order=newest: newest first, and its pages go back in time"

        bo = (await http.get("/v1/runs", params={"user_id": "bo", "status": "completed"})).json()
        assert [r["execution_id"] for r in bo["runs"]] == [ids[1], ids[3]] and bo["next_page_token"] is None
        assert (await http.get("/v1/runs", params={"status": "failed"})).json()["runs"] == []
        everything = (await http.get("/v1/runs", params={"since": "2000-01-01T00:00:00Z"})).json()["runs"]
        assert len(everything) == 6
        error_of(await http.get("/v1/runs", params={"status": "nope"}), 422, ErrorCode.INVALID_INPUT)
        error_of(await http.get("/v1/runs", params={"page_token": "no-such-run"}), 400, ErrorCode.INVALID_INPUT)

        history = (await http.get(f"/v1/runs/{ids[2]}/history")).json()
        assert history["execution_id"] == ids[2]
        types = [r["type"] for r in history["records"]]
        assert types[0] == "InvocationRequested" and types[-1] == "ExecutionCompleted"
        assert history["records"][0]["fields"]["input"] == {"x": 2}, "payloads decoded"
        assert history["records"][-1]["fields"]["result"] == 5


async def test_resume_and_cancel_answer_with_what_the_fold_made_of_them(harness):
    async with api(harness) as (http, client):
        parked = (await http.post("/v1/workflows/http_approval/runs", json={"input": {"order": "o7"}})).json()
        parked_id = parked["execution_id"]
        waiting = await assert_eventually(lambda: in_status(client, parked_id, "waiting"), timeout=30)
        assert waiting.waiting_for[0]["key"] == "approval"

        resumed = await http.post(f"/v1/runs/{parked_id}/resume/approval", json={"data": "yes"})
        assert resumed.status_code == 200, resumed.text
        assert resumed.json()["outcome"] == "applied" and resumed.json()["execution_id"] == parked_id
        result = (await http.get(f"/v1/runs/{parked_id}/result")).json()
        assert result["result"] == {"order": "o7", "answer": "yes"}
        late = (await http.post(f"/v1/runs/{parked_id}/resume/approval", json={"data": "again"})).json()
        assert late["outcome"] in ("already", "ended") and late["message"]

        other = (await http.post("/v1/workflows/http_approval/runs", json={"input": {"order": "o8"}})).json()
        await assert_eventually(lambda: in_status(client, other["execution_id"], "waiting"), timeout=30)
        cancelled = await http.post(f"/v1/runs/{other['execution_id']}/cancel", json={"reason": "no stock"})
        assert cancelled.status_code == 200 and cancelled.json()["outcome"] == "applied"
        ended = (await http.get(f"/v1/runs/{other['execution_id']}/result")).json()
        assert ended["status"] == "cancelled"
        again = (await http.post(f"/v1/runs/{other['execution_id']}/terminate")).json()
        assert again["outcome"] == "ended" and again["execution"]["status"] == "cancelled"

        missing = await http.post("/v1/runs/no-such-run/cancel")
        assert error_of(missing, 404, ErrorCode.NOT_FOUND)["execution_id"] == "no-such-run"


async def test_a_published_event_reaches_a_run_that_waits_for_it(harness):
    async with api(harness) as (http, client):
        topic = f"{harness.namespace}.approvals"
        run = (await http.post("/v1/workflows/http_event/runs", json={"input": {"topic": topic}})).json()
        await assert_eventually(lambda: in_status(client, run["execution_id"], "waiting"), timeout=30)

        published = await http.post(f"/v1/events/{topic}", json={"value": {"approved": True}})
        assert published.status_code == 200, published.text
        assert published.json()["topic"] == topic and published.json()["offset"] >= 0
        result = (await http.get(f"/v1/runs/{run['execution_id']}/result", params={"timeout": 60})).json()
        assert result["status"] == "completed" and result["result"] == {"approved": True}

        own = await http.post(f"/v1/events/{harness.namespace}.journal", json={"value": 1})
        error_of(own, 422, ErrorCode.INVALID_INPUT)
        error_of(await http.post("/v1/events/bad topic!", json={"value": 1}), 422, ErrorCode.INVALID_INPUT)


async def test_schedules_and_queues(harness):
    async with api(harness) as (http, client):
        schedule = await schedules.create(client, "http_tick", cron="0 0 1 1 *", key="yearly")
        listed = (await http.get("/v1/schedules")).json()["schedules"]
        assert [s["schedule_id"] for s in listed] == [schedule.schedule_id] == ["http_tick/yearly"]
        one = await http.get(f"/v1/schedules/{schedule.schedule_id}")
        assert one.status_code == 200 and one.json()["cron"] == "0 0 1 1 *" and one.json()["next_tick"]
        error_of(await http.get("/v1/schedules/http_tick/none"), 404, ErrorCode.NOT_FOUND)

        run = await http.post("/v1/workflows/http_queued/runs?wait=true", json={"input": {"n": 1}})
        assert run.json()["result"] == 2 and run.json()["queue"]["name"] == QUEUE.name
        queues = (await http.get("/v1/queues", params={"queue": QUEUE.name})).json()["queues"]
        assert [(q["queue"], q["limit"]) for q in queues] == [(QUEUE.name, 2)]
        changed = await http.put(f"/v1/queues/{QUEUE.name}/limit", json={"limit": 5})
        assert changed.status_code == 200 and changed.json() == {"queue": QUEUE.name, "limit": 5}

        async def limit_is_5():
            found = (await http.get("/v1/queues", params={"queue": QUEUE.name})).json()["queues"]
            return found and found[0]["limit"] == 5

        await assert_eventually(limit_is_5, timeout=30)
        error_of(await http.put(f"/v1/queues/{QUEUE.name}/limit", json={"limit": 0}), 422, ErrorCode.INVALID_INPUT)


# -- Server-Sent Events ---------------------------------------------------------------------


async def test_the_event_stream_of_a_run_follows_it_live_and_resumes_after_last_event_id(harness):
    async with api(harness) as (http, client):
        run = (await http.post("/v1/workflows/http_approval/runs", json={"input": {"order": "o9"}})).json()
        execution_id = run["execution_id"]
        reading = asyncio.create_task(sse(http, f"/v1/runs/{execution_id}/events"))
        await assert_eventually(lambda: in_status(client, execution_id, "waiting"), timeout=30)
        assert not reading.done(), "the stream stays open while the run waits"
        first = await sse(http, f"/v1/runs/{execution_id}/events", stop_after=1)  # a reader that hangs up
        assert first[0]["data"]["type"] == "InvocationRequested"
        await http.post(f"/v1/runs/{execution_id}/resume/approval", json={"data": "ok"})
        events = await reading

        records, end = events[:-1], events[-1]
        assert end["event"] == "end" and "id" not in end and end["data"]["status"] == "completed"
        assert all(e["event"] == "record" for e in records) and len(records) >= 4
        assert [e["data"]["type"] for e in records][0] == "InvocationRequested"
        assert records[-1]["data"]["type"] == "ExecutionCompleted"
        assert [e["id"] for e in records] == [f"{e['data']['partition']}:{e['data']['offset']}" for e in records]
        assert [e["data"] for e in records] == (await http.get(f"/v1/runs/{execution_id}/history")).json()["records"]

        later = await sse(http, f"/v1/runs/{execution_id}/events", {"Last-Event-ID": records[1]["id"]})
        assert [e["id"] for e in later[:-1]] == [e["id"] for e in records[2:]] and later[-1]["event"] == "end"
        by_query = await sse(http, f"/v1/runs/{execution_id}/events?last_event_id={records[-1]['id']}")
        assert [e["event"] for e in by_query] == ["end"]

        error_of(await http.get("/v1/runs/no-such-run/events"), 404, ErrorCode.NOT_FOUND)
        bad = await http.get(f"/v1/runs/{execution_id}/events", headers={"Last-Event-ID": "yesterday"})
        error_of(bad, 400, ErrorCode.INVALID_INPUT)


async def test_the_live_stream_of_a_run_and_its_resume_after_last_event_id(harness):
    async with api(harness) as (http, _):
        words = ["durable ", "streams ", "resume"]
        run = (await http.post("/v1/workflows/http_streamer/runs", json={"input": {"words": words}})).json()
        events = await sse(http, f"/v1/runs/{run['execution_id']}/stream")

        streamed, end = events[:-1], events[-1]
        assert [e["data"]["data"]["text"] for e in streamed] == words
        assert all(e["event"] == "stream" and e["data"]["kind"] == "text_delta" for e in streamed)
        assert end["event"] == "end" and end["data"]["result"] == 3
        later = await sse(http, f"/v1/runs/{run['execution_id']}/stream", {"Last-Event-ID": streamed[0]["id"]})
        assert [e["data"]["data"]["text"] for e in later[:-1]] == words[1:] and later[-1]["event"] == "end"


# -- auth, errors, limits, the description ----------------------------------------------------


async def test_bearer_auth_lets_in_only_a_token_whose_hash_it_holds(harness):
    async with api(harness, worker=False, tokens=[hash_token(TOKEN), hash_token("another")]) as (http, _):
        missing = await http.get("/v1/runs")
        error_of(missing, 401, ErrorCode.UNAUTHORIZED)
        assert missing.headers["www-authenticate"].startswith("Bearer")
        wrong = await http.get("/v1/runs", headers={"Authorization": "Bearer not-it"})
        error_of(wrong, 401, ErrorCode.UNAUTHORIZED)
        assert 'error="invalid_token"' in wrong.headers["www-authenticate"]
        error_of(await http.get("/v1/runs", headers={"Authorization": f"Basic {TOKEN}"}), 401, ErrorCode.UNAUTHORIZED)

        right = await http.get("/v1/runs", headers={"Authorization": f"Bearer {TOKEN}"})
        assert right.status_code == 200 and right.json() == {"runs": [], "next_page_token": None}
        assert (await http.get("/healthz")).json() == {"status": "ok"}
        document = (await http.get("/openapi.json")).json()
        assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
        assert document["paths"]["/v1/runs"]["get"]["security"] == [{"bearer": []}]
        assert "security" not in document["paths"]["/healthz"]["get"]
        assert (await http.get("/docs")).status_code == 200


async def test_every_error_comes_in_the_one_shape(harness):
    async with api(harness, worker=False, max_body_bytes=64 * 1024) as (http, client):
        missing = await http.get("/v1/runs/no-such-run")
        assert error_of(missing, 404, ErrorCode.NOT_FOUND)["execution_id"] == "no-such-run"
        error_of(await http.get("/v1/no-such-route"), 404, ErrorCode.UNKNOWN_ROUTE)
        not_allowed = await http.delete("/v1/runs")
        error_of(not_allowed, 405, ErrorCode.METHOD_NOT_ALLOWED)
        assert not_allowed.headers["allow"] == "GET"
        bad_json = await http.post(
            "/v1/workflows/http_add/runs", content=b'{"input": ', headers={"Content-Type": "application/json"}
        )
        error_of(bad_json, 400, ErrorCode.INVALID_INPUT)
        not_json_numbers = await http.post(
            "/v1/workflows/http_add/runs", content=b'{"input": {"a": NaN, "b": Infinity}}',
            headers={"Content-Type": "application/json"},
        )  # fmt: skip
        error_of(not_json_numbers, 422, ErrorCode.INVALID_INPUT)
        unknown_field = await http.post("/v1/workflows/http_add/runs", json={"inptu": {}})
        assert error_of(unknown_field, 422, ErrorCode.INVALID_INPUT)["details"][0]["loc"] == ["body", "inptu"]
        error_of(
            await http.post("/v1/workflows/http_add/runs", json={"input": {"a": "x"}}), 422, ErrorCode.INVALID_INPUT
        )
        error_of(await http.post("/v1/workflows/nope/runs", json={}), 404, ErrorCode.NOT_FOUND)

        big = {"input": {"a": 1, "b": 1, "pad": "x" * 100_000}}
        too_large = await http.post("/v1/workflows/http_add/runs", json=big)
        error_of(too_large, 413, ErrorCode.PAYLOAD_TOO_LARGE)

        async def chunks():  # no Content-Length: the limit counts what is read
            for _ in range(40):
                yield b" " * 4096

        streamed = await http.post(
            "/v1/workflows/http_add/runs", content=chunks(), headers={"Content-Type": "application/json"}
        )
        error_of(streamed, 413, ErrorCode.PAYLOAD_TOO_LARGE)
        assert await client.list_executions() == [], "no request over the limit reached the engine"


async def test_the_openapi_document_describes_every_endpoint(harness):
    async with api(harness, worker=False) as (http, _):
        document = (await http.get("/openapi.json")).json()
    expected = {
        ("post", "/v1/workflows/{workflow}/runs"),
        ("get", "/v1/runs"),
        ("get", "/v1/runs/{execution_id}"),
        ("get", "/v1/runs/{execution_id}/history"),
        ("get", "/v1/runs/{execution_id}/result"),
        ("get", "/v1/runs/{execution_id}/events"),
        ("get", "/v1/runs/{execution_id}/stream"),
        ("post", "/v1/runs/{execution_id}/cancel"),
        ("post", "/v1/runs/{execution_id}/terminate"),
        ("post", "/v1/runs/{execution_id}/resume/{name}"),
        ("post", "/v1/events/{topic}"),
        ("get", "/v1/schedules"),
        ("get", "/v1/schedules/{schedule_id}"),
        ("get", "/v1/queues"),
        ("put", "/v1/queues/{queue}/limit"),
        ("post", "/v1/webhooks/{source}/{name}"),
        ("get", "/metrics"),
        ("get", "/healthz"),
    }
    found = {(method, path) for path, operations in document["paths"].items() for method in operations}
    assert found == expected
    start = document["paths"]["/v1/workflows/{workflow}/runs"]["post"]
    assert {"200", "202", "409", "422", "504"} <= set(start["responses"])
    assert start["responses"]["422"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorBody")
    assert any(p["name"] == "Idempotency-Key" and p["in"] == "header" for p in start["parameters"])
    assert "RunRequest" in document["components"]["schemas"] and "Execution" in document["components"]["schemas"]


def test_the_apis_run_statuses_are_the_engines():
    from typing import get_args

    from connectors.http.models import RunStatus
    from engine.fold.rows import Status

    assert set(get_args(RunStatus)) == {s.value for s in Status}


# -- fuzzing against the served OpenAPI document ------------------------------------------------


async def test_fuzzed_requests_get_no_server_error_and_answers_that_fit_the_document(tmp_path, namespace):
    """schemathesis, bounded (25 examples an operation): no 5xx, and every answer fits the
    OpenAPI document. On the embedded log only: it tests the HTTP layer, not the log. The
    app's registry has only workflows that end at once, so no fuzzed wait lasts."""
    import hypothesis
    import schemathesis
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import response_schema_conformance

    quick = Registry()
    for wf in (http_add, http_three, http_fail):
        quick.add(wf)
    harness = EngineHarness("embedded", tmp_path, namespace, None)
    try:
        await harness.worker(registry=reg)
        client = await harness.client()
        app = create_app(client, tokens=[hash_token(TOKEN)], registry=quick)
        async with served(app, TOKEN) as http:
            base_url = str(http.base_url).rstrip("/")
            schema = schemathesis.openapi.from_dict((await http.get("/openapi.json")).json())
            operations = len(list(schema.get_all_operations()))

            calls: list[int] = []

            def fuzz() -> list[str]:
                failures = []
                for result in schema.get_all_operations():
                    operation = result.ok()

                    @hypothesis.settings(
                        max_examples=25,
                        deadline=None,
                        database=None,
                        derandomize=True,
                        suppress_health_check=list(hypothesis.HealthCheck),
                        phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
                    )
                    @hypothesis.given(case=operation.as_strategy())
                    def check(case):
                        calls.append(1)
                        case.call_and_validate(
                            base_url=base_url,
                            headers={"Authorization": f"Bearer {TOKEN}"},
                            checks=[not_a_server_error, response_schema_conformance],
                            timeout=60,
                        )

                    try:
                        check()
                    except Exception as exc:  # noqa: BLE001 - collected, reported together
                        failures.append(f"{operation.label}: {exc}")
                return failures

            failures = await asyncio.to_thread(fuzz)
            print(f"fuzzed {len(calls)} requests over {operations} operations; {len(failures)} failing")
        assert not failures, "\n\n".join(failures)
        assert len(calls) >= 10 * operations, f"{len(calls)} requests over {operations} operations"
    finally:
        await harness.close()
