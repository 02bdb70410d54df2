"""The web UI in a real browser (headless Chromium from Debian, driven by selenium), on both
logs: the run list and its filter, a run's timeline, an agent's model turns, approving a
suspended run with a click and watching it complete on the page (the page's script keeps
it live), cancelling, and logging in with a token when auth is on.

The app runs on a real uvicorn server on 127.0.0.1 in the test's event loop; selenium's
blocking calls run in a thread, so the server answers meanwhile. One browser serves the
whole module. With ``LOGLOOM_UI_SCREENSHOTS=docs/img`` the tests save the screenshots of
``docs/ui.md`` there. With ``CI=true`` a missing browser fails the tests instead of
skipping them (``scripts/setup.sh`` installs it)."""

import asyncio
import contextlib
import os
import shutil
import tempfile
from pathlib import Path

import pytest
from apps.ui_app import AGENT, TOKEN, make_registry
from helpers import ROOT, assert_eventually, in_status

from connectors.http import create_app, hash_token
from connectors.http.server import make_server
from engine.agents.testing import ScriptedModelServer, reply, tool_call

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
WAIT_S = 30
SCREENSHOTS = os.environ.get("LOGLOOM_UI_SCREENSHOTS")
FLAGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--window-size=1280,800",
]  # fmt: skip


@pytest.fixture(scope="module")
def browser():
    """One headless Chromium for the module, from Debian's packages (never downloaded)."""
    if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
        missing = f"{CHROMIUM} or {CHROMEDRIVER} is missing: scripts/setup.sh installs chromium and chromium-driver"
        if os.environ.get("CI") == "true":
            pytest.fail(missing)
        pytest.skip(missing)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="logloom-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in [*FLAGS, f"--user-data-dir={profile}"]:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_window_size(1280, 800)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def model():
    with ScriptedModelServer() as server:
        yield server


class Page:
    """The browser, from async tests: each selenium call runs in a thread."""

    def __init__(self, driver, base_url: str):
        self.driver = driver
        self.base_url = base_url

    async def open(self, path: str) -> None:
        await asyncio.to_thread(self.driver.get, self.base_url + path)

    async def call(self, fn, *args):
        return await asyncio.to_thread(fn, *args)

    async def text(self, css: str) -> str:
        return await asyncio.to_thread(lambda: self.driver.find_element("css selector", css).text)

    async def texts(self, css: str) -> list[str]:
        return await asyncio.to_thread(lambda: [e.text for e in self.driver.find_elements("css selector", css)])

    async def click(self, css: str) -> None:
        await asyncio.to_thread(lambda: self.driver.find_element("css selector", css).click())

    async def type(self, css: str, text: str) -> None:
        await asyncio.to_thread(lambda: self.driver.find_element("css selector", css).send_keys(text))

    async def until(self, predicate, message: str):
        """Polls ``predicate(driver)`` (in a thread) until it is truthy."""

        def check():
            try:
                return predicate(self.driver)
            except Exception:  # an element swapped out under us: ask again
                return None

        return await assert_eventually(lambda: asyncio.to_thread(check), timeout=WAIT_S, interval=0.1, message=message)

    async def screenshot(self, name: str) -> None:
        if SCREENSHOTS:
            target = Path(SCREENSHOTS) if os.path.isabs(SCREENSHOTS) else ROOT / SCREENSHOTS
            target.mkdir(parents=True, exist_ok=True)
            await asyncio.to_thread(self.driver.save_screenshot, str(target / f"ui-{name}.png"))


@contextlib.asynccontextmanager
async def served(harness, driver, model_url: str | None = None, tokens: list[str] | None = None):
    """The app on uvicorn (port 0) over a harness worker and client; the page, and the client."""
    registry = make_registry(model_url)
    await harness.worker(registry=registry)
    client = await harness.client()
    server = make_server(create_app(client, tokens=tokens, registry=registry), "127.0.0.1", 0, log_level="warning")
    task = asyncio.create_task(server.serve())
    await assert_eventually(lambda: server.started or task.done(), timeout=20, message="uvicorn started")
    if task.done():
        task.result()
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield Page(driver, f"http://127.0.0.1:{port}"), client
    finally:
        await asyncio.to_thread(driver.get, "about:blank")  # no page polls a server that stops
        await asyncio.to_thread(driver.execute_cdp_cmd, "Network.clearBrowserCookies", {})  # for every host
        server.should_exit = True
        await asyncio.wait_for(task, 20)


def row_ids(driver) -> list[str]:
    return [row.get_attribute("data-id") for row in driver.find_elements("css selector", "#runs tbody tr")]


async def test_the_list_shows_and_filters_runs_and_a_run_shows_its_timeline(harness, browser, model):
    async with served(harness, browser, model.openai_base_url) as (page, client):
        model.add(reply(tool_calls=[tool_call("lookup", {"sku": "B-2"})], input_tokens=40, output_tokens=12))
        model.add(reply("B-2: 3 in stock.", input_tokens=61, output_tokens=8))
        agent = await client.invoke(AGENT, {"input": "How many B-2 are in stock?"})
        await agent.wait(timeout=60)  # first: its SDK's import holds up the worker a moment
        adds = [await client.invoke("ui_add", {"a": i, "b": 2}) for i in range(2)]
        failed = await client.invoke("ui_fail")
        tour = await client.invoke("ui_tour", {"order": "o-9"})
        for handle in (*adds, failed):
            await handle.wait(timeout=60)
        await assert_eventually(lambda: in_status(client, tour.execution_id, "waiting"), timeout=60)
        everything = {*(h.execution_id for h in adds), failed.execution_id, tour.execution_id, agent.execution_id}

        await page.open("/ui")
        assert set(await page.call(row_ids, browser)) >= everything
        await page.screenshot("runs")

        await page.type("#filters input[name=workflow]", "ui_add")
        await page.click("#filters button[type=submit]")
        newest = await client.list_executions(workflow="ui_add", newest_first=True)  # created in one ms: by id
        wanted = [e.execution_id for e in newest]
        assert set(wanted) == {h.execution_id for h in adds}
        await page.until(lambda d: row_ids(d) == wanted, "the list shows only the ui_add runs, newest first")
        assert "workflow=ui_add" in browser.current_url

        await page.click(f'tr[data-id="{adds[0].execution_id}"] a')
        await page.until(lambda d: d.find_element("id", "run-id").text == adds[0].execution_id, "the run page")
        assert await page.text("#status") == "completed"
        assert (await page.text('#timeline tr[data-step="add"]')).startswith("add step completed")

        await page.open(f"/ui/runs/{tour.execution_id}")
        steps = await page.call(
            lambda: [
                r.get_attribute("data-step") for r in browser.find_elements("css selector", "#timeline tr[data-step]")
            ]
        )
        assert steps == ["prepare", "flaky", "flaky", "sleep:1", "kid", "wait_for_user:1"]
        await page.call(lambda: browser.execute_script("document.getElementById('timeline-heading').scrollIntoView()"))
        await page.screenshot("run")

        await page.open(f"/ui/runs/{agent.execution_id}")
        assert await page.text("#tokens") == "101 tokens in, 20 out"
        assert "B-2: 3 in stock." in await page.texts("#turns td.said")
        await page.call(lambda: browser.execute_script("document.getElementById('agent-turns').scrollIntoView()"))
        await page.screenshot("agent")


async def test_approving_a_suspended_run_with_a_click_completes_it_on_the_page(harness, browser):
    async with served(harness, browser) as (page, client):
        handle = await client.invoke("ui_approval", {"order": "o-10", "pause_s": 1.5})
        await assert_eventually(lambda: in_status(client, handle.execution_id, "waiting"), timeout=60)
        await page.open(f"/ui/runs/{handle.execution_id}")
        assert await page.text("#resume-approval .question") == "Ship o-10?"
        await page.screenshot("approval")
        await page.click("#resume-approval button[value=approve]")
        await page.until(lambda d: "note=applied" in d.current_url, "the answer's redirect")
        assert (await page.text("#note")).startswith("applied: resumed 'approval'")
        assert await page.text("#status") != "completed"  # it sleeps 1.5 s first
        await page.call(lambda: browser.execute_script("window.notReloaded = true"))
        await page.until(lambda d: d.find_element("id", "status").text == "completed", "the page shows the end")
        assert await page.call(lambda: browser.execute_script("return window.notReloaded")) is True  # live
        assert "ship" in await page.call(
            lambda: [r.get_attribute("data-step") for r in browser.find_elements("css selector", "#timeline tr")]
        )
        assert await handle.result(timeout=30) == {"order": "o-10", "approved": True}


async def test_cancel_with_a_click(harness, browser):
    async with served(harness, browser) as (page, client):
        handle = await client.invoke("ui_approval", {"order": "o-11"})
        await assert_eventually(lambda: in_status(client, handle.execution_id, "waiting"), timeout=60)
        await page.open(f"/ui/runs/{handle.execution_id}")
        await page.type("#cancel-form input[name=reason]", "no stock")
        await page.click("#cancel")
        await page.until(lambda d: d.find_element("id", "status").text == "cancelled", "the page shows it cancelled")
        assert (await handle.wait(timeout=30)).status == "cancelled"
        assert await page.call(lambda: browser.find_elements("id", "cancel")) == []


async def test_login_with_a_token_when_auth_is_on(harness, browser):
    async with served(harness, browser, tokens=[hash_token(TOKEN)]) as (page, client):
        await page.open("/ui/waiting")
        await page.until(lambda d: "/ui/login?next=" in d.current_url, "the login page")
        await page.type("#token", "not-it")
        await page.click("#login")
        await page.until(lambda d: d.find_element("id", "problem").text == "the token is not accepted", "refused")
        await page.type("#token", TOKEN)
        await page.click("#login")
        await page.until(lambda d: d.current_url.endswith("/ui/waiting"), "back where it was going")
        assert await page.text("h1") == "Waiting runs"
        cookie = await page.call(browser.get_cookie, "logloom_token")
        assert cookie["httpOnly"] is True and cookie["sameSite"] == "Strict" and cookie["path"] == "/ui"
        assert await page.call(lambda: browser.execute_script("return document.cookie")) == ""
