"""The demo's deployment defaults: settings from the environment, DEBUG off, paginated lists."""

import subprocess
import sys

import httpx
import pytest

from asgi_demo.contracts.models import Contract
from asgi_demo.environment import bulk_settings_from_env
from tests.conftest import CONTRACTS_URL, contract_item
from tests.fixtures.demo_server import embedded_env
from tests.fixtures.server import ServerProcess

DEBUG_PAGE_TEXT = "Using the URLconf defined in"


@pytest.fixture(scope="module")
def configured_server(django_db_setup):
    """The demo served with settings from its environment, and ``DJANGO_DEBUG`` unset."""
    server = ServerProcess(
        "env-settings",
        DJANGO_DEBUG="",
        BULK_DRF_SYNC_UPSERT_MAX_ITEMS="3",
        BULK_DRF_ENABLE_METRICS="true",
    )
    yield server
    server.stop()


@pytest.fixture
def served(configured_server):
    with httpx.Client(base_url=configured_server.http_url, trust_env=False, timeout=30) as http:
        yield http


# -- BULK_DRF_* from the environment ----------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_bulk_settings_set_in_the_environment_apply_to_the_served_api(served):
    too_many = served.post(CONTRACTS_URL, json=[contract_item(f"X{n}") for n in range(4)])
    created = served.post(CONTRACTS_URL, json=[contract_item("X1"), contract_item("X2")])

    assert too_many.status_code == 413
    assert too_many.json()["max_sync_items"] == 3
    assert created.status_code == 201
    assert created.json()["created_count"] == 2
    assert set(created.json()["metrics"]) >= {"duration_ms", "queries", "rows_per_second"}


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"BULK_DRF_MAX_RECORDS": "1000000"}, {"BULK_DRF_MAX_RECORDS": 1_000_000}),
        ({"BULK_DRF_MAX_RECORDS": "1_000"}, {"BULK_DRF_MAX_RECORDS": 1_000}),
        ({"BULK_DRF_AUTO_ROUTE": "1"}, {"BULK_DRF_AUTO_ROUTE": True}),
        ({"BULK_DRF_AUTO_ROUTE": "True"}, {"BULK_DRF_AUTO_ROUTE": True}),
        ({"BULK_DRF_USE_OPTIMIZED_TASKS": "0"}, {"BULK_DRF_USE_OPTIMIZED_TASKS": False}),
        ({"BULK_DRF_ENABLE_METRICS": "false"}, {"BULK_DRF_ENABLE_METRICS": False}),
        ({"BULK_DRF_CHUNK_SIZE": ""}, {}),
        (
            {"BULK_DRF_OPERATION_STORE": "myproject.stores.Store"},
            {"BULK_DRF_OPERATION_STORE": "myproject.stores.Store"},
        ),
        ({"DJANGO_DEBUG": "1", "PATH": "/usr/bin"}, {}),
    ],
)
def test_bulk_settings_are_typed_like_the_package_defaults(environ, expected):
    assert bulk_settings_from_env(environ) == expected


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("BULK_DRF_MAX_RECORDS", "lots", "BULK_DRF_MAX_RECORDS='lots': expected an integer"),
        ("BULK_DRF_CHUNK_SIZE", "2.5", "BULK_DRF_CHUNK_SIZE='2.5': expected an integer"),
        ("BULK_DRF_AUTO_ROUTE", "maybe", "BULK_DRF_AUTO_ROUTE='maybe': expected 1/0, true/false"),
        ("BULK_DRF_MAX_RECORD", "5", "Unknown setting(s) BULK_DRF_MAX_RECORD; known:"),
    ],
)
def test_a_bulk_setting_that_does_not_parse_stops_the_demo_with_its_name(
    tmp_path, variable, value, message
):
    env = {**embedded_env(), variable: value, "DEMO_SQLITE_PATH": str(tmp_path / "db.sqlite3")}

    check = subprocess.run(
        [sys.executable, "-m", "asgi_demo", "check"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert check.returncode != 0
    assert f"ImproperlyConfigured: {message}" in check.stderr


# -- DEBUG ------------------------------------------------------------------------------------


def test_debug_is_off_by_default_and_the_page_and_swagger_ui_are_still_served(served):
    missing = served.get("/no-such-page/")
    page = served.get("/")
    docs = served.get("/api/docs/")
    assets = [
        asset
        for asset in docs.text.split('"')
        if asset.startswith("/static/") and asset.endswith((".js", ".css"))
    ]

    assert missing.status_code == 404
    assert DEBUG_PAGE_TEXT not in missing.text
    assert page.status_code == 200
    assert "<html" in page.text.lower()
    assert docs.status_code == 200
    assert any(asset.endswith("swagger-ui-bundle.js") for asset in assets)
    for asset in assets:
        assert served.get(asset).status_code == 200, asset


def test_django_debug_1_turns_debug_on(django_db_setup):
    server = ServerProcess("debug-on", DJANGO_DEBUG="1")
    try:
        missing = httpx.get(f"{server.http_url}/no-such-page/", trust_env=False, timeout=30)
    finally:
        server.stop()

    assert missing.status_code == 404
    assert DEBUG_PAGE_TEXT in missing.text


# -- paginated lists --------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
async def test_the_list_is_paged_by_cursor_newest_first_each_row_once(api, saved_contracts):
    saved = await saved_contracts(5)
    newest_first = [contract.pk for contract in reversed(saved)]

    pages = []
    url = f"{CONTRACTS_URL}?page_size=2"
    while url:
        response = await api.get(url)
        assert response.status_code == 200
        pages.append(response.json())
        url = response.json()["next"]

    assert [set(page) for page in pages] == [{"next", "previous", "results"}] * 3
    assert [[row["id"] for row in page["results"]] for page in pages] == [
        newest_first[0:2],
        newest_first[2:4],
        newest_first[4:5],
    ]
    assert pages[0]["previous"] is None
    assert pages[1]["previous"] is not None


@pytest.mark.django_db(transaction=True)
async def test_a_list_page_reads_one_page_of_rows_whatever_the_table_holds(
    api, query_counter, contract_items
):
    await Contract.objects.abulk_create(Contract(**item) for item in contract_items(1_200))
    query_counter.reset()

    default_page = await api.get(CONTRACTS_URL)
    largest_page = await api.get(CONTRACTS_URL, params={"page_size": 5_000})

    assert len(default_page.json()["results"]) == 100
    assert len(largest_page.json()["results"]) == 1_000
    selects = [sql for sql in query_counter.statements if sql.lstrip().startswith("SELECT")]
    assert len(selects) == 2
    assert all("LIMIT" in sql and "COUNT(" not in sql for sql in selects)
