"""The web UI (``connectors/http/ui``) without a browser, on both logs: every page and every
form's answer, through httpx on the app itself (the same event loop as the engine): the
run list's filters and pages, a run's timeline, records, state and agent turns, the live
part, resume forms of each kind, cancel, rerun, the waiting runs and queues, login, and
the 4xx pages for an unknown run, bad filters, bad forms and forms from another site."""

import contextlib
import re
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from apps.ui_app import AGENT, QUEUE, TOKEN, make_registry
from helpers import assert_eventually, in_status

from connectors.http import create_app, hash_token
from engine.agents.testing import ScriptedModelServer, reply, tool_call

ORIGIN = "http://ui.test"


@pytest.fixture(scope="module")
def model():
    with ScriptedModelServer() as server:
        yield server


@contextlib.asynccontextmanager
async def ui(harness, model_url: str | None = None, tokens: list[str] | None = None, worker: bool = True):
    """The app (API and UI) over a harness client, and an httpx client that posts from its pages."""
    registry = make_registry(model_url)
    if worker:
        await harness.worker(registry=registry)
    client = await harness.client()
    app = create_app(client, tokens=tokens, registry=registry)
    transport = httpx.ASGITransport(app)
    async with httpx.AsyncClient(transport=transport, base_url=ORIGIN, headers={"Origin": ORIGIN}) as http:
        yield http, client


def run_ids(html: str) -> list[str]:
    return re.findall(r'<tr data-id="([^"]+)">', html)


def problem(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("text/html")
    found = re.search(r'id="problem">([^<]*)<', response.text)
    assert found, response.text
    return found.group(1).replace("&#39;", "'")


async def waiting_at(client, execution_id: str, key: str):
    async def check():
        run = await in_status(client, execution_id, "waiting")
        return run if run and any(w["key"] == key for w in run.waiting_for) else None

    return await assert_eventually(check, timeout=60, message=f"{execution_id} waits at {key}")


async def test_the_run_list_filters_pages_and_refuses_bad_filters(harness):
    async with ui(harness) as (http, client):
        session = f"s-{uuid.uuid4().hex[:6]}"
        adds = [await client.invoke("ui_add", {"a": i, "b": 1}, session_id=session) for i in range(3)]
        failed = await client.invoke("ui_fail")
        for handle in (*adds, failed):
            await handle.wait(timeout=60)
        newest = await client.list_executions(workflow="ui_add", newest_first=True)  # two may share a ms: by id
        add_ids = [e.execution_id for e in newest]  # the list is newest first
        assert set(add_ids) == {h.execution_id for h in adds}

        listed = await http.get("/ui")
        assert listed.status_code == 200 and set(run_ids(listed.text)) == {*add_ids, failed.execution_id}
        assert 'class="status completed"' in listed.text and 'class="status failed"' in listed.text
        assert run_ids((await http.get("/ui/runs", params={"workflow": "ui_add"})).text) == add_ids
        assert run_ids((await http.get("/ui/runs", params={"status": "failed"})).text) == [failed.execution_id]
        assert run_ids((await http.get("/ui/runs", params={"session": session, "status": ""})).text) == add_ids
        later = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
        assert run_ids((await http.get("/ui/runs", params={"since": later})).text) == []
        assert set(run_ids((await http.get("/ui/runs", params={"until": later})).text)) == {
            *add_ids,
            failed.execution_id,
        }

        first = await http.get("/ui/runs", params={"workflow": "ui_add", "limit": 2})
        assert run_ids(first.text) == add_ids[:2]
        next_url = re.search(r'href="([^"]+)" id="next-page"', first.text).group(1).replace("&amp;", "&")
        second = await http.get(next_url)
        assert run_ids(second.text) == add_ids[2:] and 'id="next-page"' not in second.text

        assert "status: 'bogus'" in problem(await http.get("/ui/runs", params={"status": "bogus"}), 422)
        assert "since: 'yesterday'" in problem(await http.get("/ui/runs", params={"since": "yesterday"}), 422)
        assert "limit:" in problem(await http.get("/ui/runs", params={"limit": "0"}), 422)
        assert "after:" in problem(await http.get("/ui/runs", params={"after": "no-such-run"}), 422)


async def test_a_run_page_shows_its_timeline_records_state_and_a_live_part(harness):
    async with ui(harness) as (http, client):
        handle = await client.invoke("ui_tour", {"order": "o-1"})
        await waiting_at(client, handle.execution_id, "wait_for_user:1")
        page = await http.get(f"/ui/runs/{handle.execution_id}")
        assert page.status_code == 200
        html = page.text
        steps = re.findall(r'<tr class="(\w+) ([\w-]+)" data-step="([^"]+)">', html)
        assert ("step", "completed", "prepare") in steps and ("retry", "retried", "flaky") in steps
        assert ("step", "completed", "flaky") in steps and ("timer", "fired", "sleep:1") in steps
        assert ("child", "completed", "kid") in steps and ("suspend", "waiting", "wait_for_user:1") in steps
        assert f'href="/ui/runs/{handle.execution_id}%3Akid"' in html  # the child run's page
        assert re.search(r'class="bar step completed"\s+style="margin-left: [\d.]+%; width: [\d.]+%"', html)
        assert "Gift wrap for o-1?" in html and 'name="choice" value="gold"' in html
        assert html.count('<tr class="record">') >= 10 and "InvocationRequested" in html and "ChildInvoked" in html
        assert 'id="state"' in html and "&#34;count&#34;: 2" in html
        version = re.search(r'data-version="([^"]+)"', html).group(1)
        live_url = f"/ui/runs/{handle.execution_id}/live"
        assert f'data-live="{live_url}"' in html

        unchanged = await http.get(live_url, params={"version": version})
        assert unchanged.status_code == 204 and unchanged.content == b""
        changed = await http.get(live_url, params={"version": "0.pending"})
        assert changed.status_code == 200 and changed.text.startswith('<section id="live"')

        child = await http.get(f"/ui/runs/{handle.execution_id}:kid")
        assert child.status_code == 200 and "ui_kid" in child.text and 'data-step="double"' in child.text
        assert "data-events" not in child.text  # an ended run's page does not listen
        streamed = await http.get(f"/ui/runs/{handle.execution_id}:kid/events", timeout=30)  # it ended: the stream ends
        assert streamed.headers["content-type"].startswith("text/event-stream")
        assert streamed.text.count("event: record") >= 3 and "event: end" in streamed.text
        last = re.findall(r"^id: (\d+:\d+)", streamed.text, re.M)[-1]
        after = await http.get(f"/ui/runs/{handle.execution_id}:kid/events", params={"last_event_id": last})
        assert "event: record" not in after.text and "event: end" in after.text
        assert f'data-events="{live_url.removesuffix("/live")}/events"' in html
        assert "no execution 'nope-" in problem(await http.get(f"/ui/runs/nope-{uuid.uuid4().hex[:4]}"), 404)
        assert "no execution" in problem(await http.get("/ui/runs/nope/live"), 404)


async def test_resume_forms_answer_each_kind_of_question_and_refuse_what_does_not_fit(harness):
    async with ui(harness) as (http, client):
        tour = await client.invoke("ui_tour", {"order": "o-2"})
        approval = await client.invoke("ui_approval", {"order": "o-3"})
        raw = await client.invoke("ui_raw")
        schema = await client.invoke("ui_schema")
        await waiting_at(client, tour.execution_id, "wait_for_user:1")
        await waiting_at(client, approval.execution_id, "approval")
        await waiting_at(client, raw.execution_id, "decide")
        await waiting_at(client, schema.execution_id, "form")
        resume = lambda handle, data, **kw: http.post(f"/ui/runs/{handle.execution_id}/resume", data=data, **kw)  # noqa: E731

        page = (await http.get(f"/ui/runs/{schema.execution_id}")).text
        assert re.search(r'name="field.qty" type="number" step="1"\s+required', page) and 'name="field.rush"' in page
        assert "not one of the options" in problem(
            await resume(tour, {"wait": "wait_for_user:1", "choice": "blue"}), 422
        )
        assert "decision:" in problem(await resume(approval, {"wait": "approval", "decision": "maybe"}), 422)
        assert "json: not valid JSON" in problem(await resume(raw, {"wait": "decide", "json": "{nope"}), 422)
        assert "qty: required" in problem(await resume(schema, {"wait": "form", "field.note": "x"}), 422)
        assert "qty: 'many' is not an integer" in problem(
            await resume(schema, {"wait": "form", "field.qty": "many"}), 422
        )
        assert "no open suspension 'aproval'" in problem(await resume(approval, {"wait": "aproval"}), 409)
        foreign = await resume(
            approval, {"wait": "approval", "decision": "approve"}, headers={"Origin": "http://evil.test"}
        )
        assert "evil.test" in problem(foreign, 403)
        bare = httpx.AsyncClient(transport=http._transport, base_url=ORIGIN)
        async with bare:
            nowhere = await bare.post(f"/ui/runs/{approval.execution_id}/resume", data={"wait": "approval"})
        assert "no Origin or Referer" in problem(nowhere, 403)
        for handle in (tour, approval, raw, schema):  # nothing was appended
            assert not [r for r in await client.history(handle.execution_id) if r.type == "ResumeRequested"]

        answered = await resume(tour, {"wait": "wait_for_user:1", "choice": "gold"})
        assert answered.status_code == 303
        assert answered.headers["location"].startswith(f"/ui/runs/{tour.execution_id}?note=applied")
        assert (await tour.result(timeout=60))["color"] == "gold"
        assert (await resume(approval, {"wait": "approval", "decision": "reject"})).status_code == 303
        assert (await approval.result(timeout=60)) == {"order": "o-3", "approved": False}
        assert (await resume(raw, {"wait": "decide", "json": '{"ok": [1, 2]}'})).status_code == 303
        assert (await raw.result(timeout=60)) == {"ok": [1, 2]}
        form = {"wait": "form", "field.qty": "3", "field.note": " fast ", "field.rush": "on"}
        assert (await resume(schema, form)).status_code == 303
        assert (await schema.result(timeout=60)) == {"qty": 3, "note": "fast", "rush": True}
        shown = await http.get(f"/ui/runs/{approval.execution_id}", params={"note": "applied: resumed 'approval'"})
        assert 'id="note">applied: resumed &#39;approval&#39;<' in shown.text and 'data-step="drop"' in shown.text
        assert 'id="state"' not in shown.text  # it keeps no state


async def test_cancel_and_rerun_answer_with_a_redirect_to_the_run(harness):
    async with ui(harness) as (http, client):
        waiting = await client.invoke("ui_approval", {"order": "o-4"})
        await waiting_at(client, waiting.execution_id, "approval")
        cancelled = await http.post(f"/ui/runs/{waiting.execution_id}/cancel", data={"reason": "out of stock"})
        assert cancelled.status_code == 303 and "note=applied" in cancelled.headers["location"]
        assert (await waiting.wait(timeout=60)).status == "cancelled"
        again = await http.post(f"/ui/runs/{waiting.execution_id}/cancel", data={})
        assert again.status_code == 303 and "note=ended" in again.headers["location"]
        long_reason = await http.post(f"/ui/runs/{waiting.execution_id}/cancel", data={"reason": "x" * 5000})
        assert "reason" in problem(long_reason, 422)

        done = await client.invoke("ui_add", {"a": 4, "b": 5}, user_id="ana")
        await done.wait(timeout=60)
        rerun = await http.post(f"/ui/runs/{done.execution_id}/rerun")
        assert rerun.status_code == 303
        new_id = re.match(r"/ui/runs/([^?]+)\?note=started", rerun.headers["location"]).group(1)
        assert new_id != done.execution_id
        rerun_run = await (await client.handle(new_id)).wait(timeout=60)
        assert rerun_run.workflow == "ui_add" and rerun_run.result == 9 and rerun_run.user_id == "ana"
        assert "no execution" in problem(await http.post("/ui/runs/nope/rerun"), 404)
        assert "no execution" in problem(await http.post("/ui/runs/nope/cancel"), 404)


async def test_an_agent_run_shows_its_model_turns_tool_calls_and_tokens(harness, model):
    async with ui(harness, model.openai_base_url) as (http, client):
        model.add(reply(tool_calls=[tool_call("lookup", {"sku": "A-1"})], input_tokens=31, output_tokens=7))
        model.add(reply("A-1: 3 in stock", input_tokens=52, output_tokens=9))
        handle = await client.invoke(AGENT, {"input": "stock of A-1?"})
        await handle.wait(timeout=60)
        html = (await http.get(f"/ui/runs/{handle.execution_id}")).text
        assert 'id="tokens">83 tokens in, 16 out<' in html
        assert html.count('<tr class="turn">') == 2 and "A-1: 3 in stock" in html and "scripted-1" in html
        assert "lookup</code>" in html and "&#34;in_stock&#34;: 3" in html
        assert 'data-step="llm:1"' in html and 'data-step="tool:1.0:lookup"' in html


async def test_the_waiting_and_queue_pages_list_what_waits(harness):
    async with ui(harness) as (http, client):
        waiting = await client.invoke("ui_approval", {"order": "o-5"})
        queued = await client.invoke("ui_queued", {"n": 1})
        await waiting_at(client, waiting.execution_id, "approval")
        await queued.wait(timeout=60)
        page = await http.get("/ui/waiting")
        assert page.status_code == 200 and run_ids(page.text) == [waiting.execution_id]
        assert "Ship o-5?" in page.text and "<code>approval</code>" in page.text
        queues = await http.get("/ui/queues")
        assert queues.status_code == 200 and f"<td>{QUEUE.name}</td>" in queues.text and "<td>1</td>" in queues.text
        assert f'action="/ui/queues/{QUEUE.name}/limit"' in queues.text

        limit_url = f"/ui/queues/{QUEUE.name}/limit"
        assert "limit: '0' is not a number" in problem(await http.post(limit_url, data={"limit": "0"}), 422)
        assert "limit: 'lots'" in problem(await http.post(limit_url, data={"limit": "lots"}), 422)
        set_limit = await http.post(limit_url, data={"limit": "3"})
        assert set_limit.status_code == 303 and set_limit.headers["location"].startswith("/ui/queues?note=queue")

        async def limit_is_3():
            return [q.limit for q in await client.list_queues(QUEUE.name)] == [3]

        await assert_eventually(limit_is_3, timeout=30, message="the workers applied the new limit")


async def test_login_sets_an_http_only_strict_cookie_that_only_the_ui_accepts(harness):
    async with ui(harness, tokens=[hash_token(TOKEN)], worker=False) as (http, client):
        asked = await http.get("/ui/runs?status=waiting")
        assert asked.status_code == 303
        assert asked.headers["location"] == "/ui/login?next=%2Fui%2Fruns%3Fstatus%3Dwaiting"
        assert (await http.get("/ui/login")).status_code == 200 and (
            await http.get("/ui/static/ui.js")
        ).status_code == 200
        assert (await http.post("/ui/runs/x/cancel")).status_code == 401

        wrong = await http.post("/ui/login", data={"token": "not-it", "next": "/ui/runs"})
        assert "not accepted" in problem(wrong, 401) and "set-cookie" not in wrong.headers
        foreign = await http.post("/ui/login", data={"token": TOKEN}, headers={"Origin": "http://evil.test"})
        assert problem(foreign, 403) and "set-cookie" not in foreign.headers

        right = await http.post("/ui/login", data={"token": TOKEN, "next": "/ui/runs?status=waiting"})
        assert right.status_code == 303 and right.headers["location"] == "/ui/runs?status=waiting"
        cookie = right.headers["set-cookie"]
        assert cookie.startswith("logloom_token=ui-s3cret;") and "HttpOnly" in cookie
        assert "SameSite=strict" in cookie and "Path=/ui" in cookie
        offsite = await http.post("/ui/login", data={"token": TOKEN, "next": "https://evil.test/"})
        assert offsite.headers["location"] == "/ui"

        cookies = {"logloom_token": TOKEN}
        async with httpx.AsyncClient(transport=http._transport, base_url=ORIGIN, cookies=cookies) as browser:
            assert (await browser.get("/ui/runs")).status_code == 200
            assert (await browser.get("/v1/runs")).status_code == 401  # the API wants the header
        bearer = {"Authorization": f"Bearer {TOKEN}"}
        assert (await http.get("/ui/queues", headers=bearer)).status_code == 200
        bad = {"logloom_token": "not-it"}
        async with httpx.AsyncClient(transport=http._transport, base_url=ORIGIN, cookies=bad) as stranger:
            assert (await stranger.get("/ui/runs")).status_code == 303
        out = await http.post("/ui/logout", headers=bearer)
        assert out.status_code == 303 and 'logloom_token=""' in out.headers["set-cookie"]


async def test_without_tokens_the_ui_is_open_and_login_leads_to_it(harness):
    async with ui(harness, worker=False) as (http, _):
        assert (await http.get("/ui/runs")).status_code == 200
        login = await http.get("/ui/login", params={"next": "/ui/queues"})
        assert login.status_code == 303 and login.headers["location"] == "/ui/queues"
        assert "/ui" not in str((await http.get("/openapi.json")).json()["paths"])
