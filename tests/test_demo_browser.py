"""The page at ``/`` in headless Chromium, against the demo served in embedded mode."""

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures.demo_server import EmbeddedDemo
from tests.fixtures.services import ROOT

playwright_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
expect = playwright_api.expect

pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOT = ROOT / "artifacts" / "screenshots" / "demo-bulk-create.png"
BULK_TIMEOUT_MS = 120_000


def install_chromium() -> None:
    """Debian's chromium, as ``.ci/run`` installs it; never a Playwright browser download."""
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "timeout": 900}
    subprocess.run(["apt-get", "update", "-q"], check=False, **quiet)
    subprocess.run(["apt-get", "install", "-y", "-q", "chromium"], check=False, **quiet)


def chromium_path() -> str:
    if not Path(CHROMIUM).exists():
        install_chromium()
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing and could not be installed (apt-get install chromium)")
    return CHROMIUM


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Iterator[EmbeddedDemo]:
    server = EmbeddedDemo(tmp_path_factory.mktemp("embedded-demo"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator:
    executable = chromium_path()
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, demo):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(demo.url + "/")
    yield page
    context.close()


def wait_for_final_state(page, text: str, demo: EmbeddedDemo) -> None:
    """Wait until the page's final state line shows ``text``; on timeout, say what it showed."""
    try:
        expect(page.locator("#final-state")).to_contain_text(text, timeout=BULK_TIMEOUT_MS)
    except AssertionError as error:
        shown = page.locator("#progress-card").inner_text()
        raise AssertionError(f"{error}\npage:\n{shown}\nserver:\n{demo.output()[-3000:]}") from None


def generate_rows(page, count: int, sample_format: str = "json") -> None:
    page.fill("#sample-size", str(count))
    page.select_option("#sample-format", sample_format)
    page.click("#generate")
    expect(page.locator("#batch-summary")).to_contain_text(f"{count} items")


def test_bulk_create_of_2000_generated_rows_completes_over_the_websocket(page, demo):
    generate_rows(page, 2000)
    page.check("input[name=mode][value=bulk]")
    page.select_option("#operation", "create")
    page.click("#send")

    wait_for_final_state(page, "Completed: 2000 created, 0 updated, 0 deleted, 0 errors", demo)
    expect(page.locator("#count-processed")).to_have_text("2000 / 2000")
    expect(page.locator("#count-created")).to_have_text("2000")
    expect(page.locator("#bar-label")).to_have_text("100%")
    assert page.locator("#transport").get_attribute("data-transport") == "websocket"
    # The status lists the first 1,000 ids; the page links to all of them, a page at a time.
    created = page.locator("#results-links a[data-kind=created]")
    expect(created).to_be_visible()
    first_page = page.evaluate(
        "async (url) => (await fetch(url)).json()", created.get_attribute("href")
    )
    assert (len(first_page["results"]), first_page["kind"]) == (1000, "created")
    assert first_page["next"]
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOT, full_page=True, animations="disabled")


def test_bulk_progress_falls_back_to_polling_when_the_socket_closes(page, demo):
    page.route_web_socket("**/ws/operations/**", lambda socket: socket.close(code=1011))
    generate_rows(page, 300)
    page.check("input[name=mode][value=bulk]")
    page.click("#send")

    wait_for_final_state(page, "Completed: 300 created, 0 updated, 0 deleted, 0 errors", demo)
    assert page.locator("#transport").get_attribute("data-transport") == "polling"
    expect(page.locator("#transport")).to_contain_text("status requests")


def test_bulk_upsert_of_csv_rows_reports_item_errors_in_the_table(page, demo):
    csv = (
        "contract_number,year,amount,customer\n"
        "CSV-UP-1,2025,10.00,Acme Corp\n"
        "CSV-UP-2,not a year,20.00,Globex\n"
        "CSV-UP-3,2025,30.00,Initech\n"
    )
    page.fill("#batch", csv)
    page.check("input[name=mode][value=bulk]")
    page.select_option("#operation", "upsert")
    expect(page.locator("#request-preview")).to_contain_text("?unique_fields=contract_number,year")
    expect(page.locator("#request-preview")).to_contain_text("text/csv")
    page.click("#send")

    wait_for_final_state(page, "Completed: 2 created, 0 updated, 0 deleted, 1 errors", demo)
    rows = page.locator("#errors-table tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first.locator("td")).to_have_text(["1", "year", "A valid integer is required."])


def test_sync_create_with_an_invalid_item_is_rejected_with_its_errors(page, demo):
    page.fill(
        "#batch",
        '[{"contract_number": "SYNC-1", "year": 2025, "amount": "1.00", "customer": "Acme"},'
        ' {"contract_number": "SYNC-2", "year": 2025, "amount": "lots", "customer": "Acme"}]',
    )
    page.check("input[name=mode][value=sync]")
    page.select_option("#operation", "create")
    page.click("#send")

    wait_for_final_state(page, "Rejected (400): Validation failed; nothing was written", demo)
    rows = page.locator("#errors-table tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first.locator("td")).to_have_text(["1", "amount", "A valid number is required."])


def test_sync_create_then_delete_of_the_loaded_rows(page, demo):
    generate_rows(page, 5)
    page.check("input[name=mode][value=sync]")
    page.select_option("#operation", "create")
    page.click("#send")
    wait_for_final_state(page, "Completed: 5 created, 0 updated, 0 deleted, 0 errors", demo)

    page.click("#load-existing")
    expect(page.locator("#batch-summary")).to_contain_text("JSON, 5 items. Edit them")
    page.select_option("#operation", "delete")
    page.click("#send")
    wait_for_final_state(page, "Completed: 0 created, 0 updated, 5 deleted, 0 errors", demo)
