"""The demo's OpenAPI schema (drf-spectacular) and Swagger UI: the bulk endpoints are documented
with their real request and answer shapes, and the real answers match what the schema says."""

import copy
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.utils import extend_schema

from asgi_demo.contracts.views import ContractViewSet
from django_bulk_drf.routers import BulkRouter
from tests.conftest import CONTRACTS_URL, UPSERT_URL, contract_item
from tests.fixtures.operations import STATUS_KEYS, run_bulk

ROOT = Path(__file__).resolve().parents[1]
BULK_URL = "/api/contracts/bulk/"
STATUS_PATH = "/api/operations/{operation_id}/status/"
ACCEPTED_KEYS = {
    "message",
    "task_id",
    "total_items",
    "unique_fields",
    "status_url",
    "websocket_url",
    "is_async",
}
# Serving static files through Django under ASGI (the demo's Swagger UI assets) iterates a file.
STATIC_FILE_WARNING = "ignore:StreamingHttpResponse must consume synchronous iterators"


@pytest.fixture
async def schema(api) -> dict[str, Any]:
    """The schema as the demo serves it at /api/schema/."""
    response = await api.get("/api/schema/", params={"format": "json"})
    assert response.status_code == 200
    return response.json()


def resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """``node``, or the component it references."""
    while "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
    return node


def json_body(operation: dict[str, Any]) -> dict[str, Any]:
    return operation["requestBody"]["content"]["application/json"]["schema"]


def answer(operation: dict[str, Any], code: int) -> dict[str, Any]:
    return operation["responses"][str(code)]["content"]["application/json"]["schema"]


def assert_matches(schema: dict[str, Any], node: dict[str, Any], body: Any) -> None:
    """``body`` is valid against ``node`` (an OpenAPI 3.0 schema inside ``schema``)."""
    document = as_json_schema(copy.deepcopy(schema))
    jsonschema.validate(body, {**as_json_schema(copy.deepcopy(node)), **document})


def as_json_schema(node: Any) -> Any:
    """OpenAPI 3.0's ``nullable`` as JSON Schema's ``null`` type; components stay addressable."""
    if isinstance(node, list):
        return [as_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: as_json_schema(value) for key, value in node.items()}
    if node.pop("nullable", False):
        return {"anyOf": [node, {"type": "null"}]}
    return node


# -- the schema is valid ----------------------------------------------------------------------


def test_demo_schema_validates_without_warnings(tmp_path):
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE")
    }
    env.update(DJANGO_SETTINGS_MODULE="asgi_demo.settings", PYTHONPATH=str(ROOT))
    env["DEMO_SQLITE_PATH"] = str(tmp_path / "demo.sqlite3")
    schema_file = tmp_path / "schema.yaml"

    completed = subprocess.run(
        [sys.executable, "-m", "asgi_demo", "spectacular", "--validate", "--fail-on-warn"]
        + ["--file", str(schema_file)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert completed.returncode == 0, completed.stderr
    assert "Warning" not in completed.stderr and "Error" not in completed.stderr, completed.stderr
    paths = yaml.safe_load(schema_file.read_text())["paths"]
    assert {"/api/contracts/", BULK_URL, STATUS_PATH} <= set(paths)


# -- the list route ---------------------------------------------------------------------------


async def test_list_get_is_documented_as_a_cursor_page_and_multi_get(schema):
    get = schema["paths"][CONTRACTS_URL]["get"]

    listing, multi_get = answer(get, 200)["anyOf"]
    assert set(listing["properties"]) == {"next", "previous", "results"}
    assert listing["properties"]["results"] == {
        "type": "array",
        "items": {"$ref": "#/components/schemas/Contract"},
    }
    assert set(resolve(schema, multi_get)["properties"]) == {"count", "results", "is_sync"}
    parameters = {parameter["name"]: parameter for parameter in get["parameters"]}
    ids = parameters["ids"]
    assert (ids["in"], ids["schema"]["type"], ids["explode"]) == ("query", "array", False)
    assert {"cursor", "page_size"} <= set(parameters)
    assert get["operationId"].endswith("contracts_list")


async def test_list_post_takes_an_object_or_an_array(schema):
    post = schema["paths"][CONTRACTS_URL]["post"]

    one, many = json_body(post)["oneOf"]
    assert one == {"$ref": "#/components/schemas/Contract"}
    assert many == {"type": "array", "items": {"$ref": "#/components/schemas/Contract"}}
    assert "text/csv" in post["requestBody"]["content"]
    assert {"200", "201", "202", "400", "413"} <= set(post["responses"])
    created = resolve(schema, answer(post, 201)["oneOf"][1])
    assert set(created["required"]) == {
        "message",
        "total_items",
        "created_count",
        "created_ids",
        "is_sync",
    }
    assert set(created["properties"]) - set(created["required"]) == {"dry_run", "created_indices"}
    unique_fields = next(p for p in post["parameters"] if p["name"] == "unique_fields")
    assert set(unique_fields["schema"]["enum"]) == {"id", "contract_number,year"}


@pytest.mark.parametrize("method", ["put", "patch"])
async def test_list_put_and_patch_take_arrays_of_items_with_their_id(schema, method):
    operation = schema["paths"][CONTRACTS_URL][method]

    body = json_body(operation)
    assert body["type"] == "array"
    item = resolve(schema, body["items"])
    assert "readOnly" not in item["properties"]["id"]
    assert "contract_number" in item["properties"]
    assert "text/csv" in operation["requestBody"]["content"]
    assert operation["requestBody"]["required"] is True
    assert any(p["name"] == "unique_fields" for p in operation["parameters"])


async def test_list_delete_takes_ids_in_the_query_or_the_body(schema):
    delete = schema["paths"][CONTRACTS_URL]["delete"]

    ids = next(parameter for parameter in delete["parameters"] if parameter["name"] == "ids")
    assert ids["in"] == "query"
    assert json_body(delete)["type"] == "array"
    deleted = resolve(schema, answer(delete, 200))
    assert set(deleted["required"]) >= {"deleted_count", "deleted_ids", "is_sync"}


async def test_list_route_operations_have_their_own_ids(schema):
    operation_ids = [
        operation["operationId"]
        for path in (CONTRACTS_URL, "/api/contracts/{id}/", BULK_URL)
        for operation in schema["paths"][path].values()
    ]
    assert len(operation_ids) == len(set(operation_ids)) == 14
    assert not any(re.search(r"_\d+$", operation_id) for operation_id in operation_ids)


# -- the /bulk/ route and the operations ------------------------------------------------------


@pytest.mark.parametrize("method", ["get", "post", "put", "patch", "delete"])
async def test_bulk_endpoints_answer_202_with_the_operation(schema, method):
    operation = schema["paths"][BULK_URL][method]

    accepted = operation["responses"]["202"]
    assert "Location" in accepted["headers"]
    assert set(resolve(schema, answer(operation, 202))["required"]) == ACCEPTED_KEYS
    if method in ("post", "put", "patch"):
        assert json_body(operation)["type"] == "array"
        assert "text/csv" in operation["requestBody"]["content"]
    else:
        assert any(p["name"] == "ids" for p in operation["parameters"])


async def test_operation_status_is_documented(schema):
    get = schema["paths"][STATUS_PATH]["get"]

    status = resolve(schema, answer(get, 200))
    assert set(status["required"]) == STATUS_KEYS
    assert resolve(schema, status["properties"]["status"])["enum"] == [
        "pending",
        "running",
        "completed",
        "failed",
        "cancelled",
    ]
    assert set(status["properties"]["progress"]["properties"]) == {"processed", "total", "percent"}
    assert "404" in get["responses"]
    cancel = schema["paths"]["/api/operations/{operation_id}/"]["delete"]
    assert {"202", "404", "409"} <= set(cancel["responses"])


@extend_schema(tags=["imports"])
class DocumentedContractViewSet(ContractViewSet):
    """A user's viewset with its own schema annotations."""

    @extend_schema(description="Our contracts.")
    async def alist(self, request, *args, **kwargs):
        return await super().alist(request, *args, **kwargs)

    @extend_schema(summary="Replace contracts", responses={200: None})
    async def bulk_update(self, request, *args, **kwargs):
        return await super().bulk_update(request, *args, **kwargs)


def test_a_users_extend_schema_overrides_only_what_it_names():
    router = BulkRouter()
    router.register("documented", DocumentedContractViewSet, basename="documented")

    paths = SchemaGenerator(patterns=router.urls).get_schema(request=None, public=True)["paths"]

    get, put = paths["/documented/"]["get"], paths["/documented/"]["put"]
    assert (get["description"], get["tags"], put["summary"]) == (
        "Our contracts.",
        ["imports"],
        "Replace contracts",
    )
    assert answer(get, 200)["anyOf"][0]["properties"]["results"]["type"] == "array"
    assert put["responses"] == {"200": {"description": "No response body"}}
    assert json_body(put)["type"] == "array"


# -- the real answers match the schema --------------------------------------------------------


@pytest.mark.django_db(transaction=True)
async def test_sync_answers_match_the_schema(api, schema):
    paths = schema["paths"][CONTRACTS_URL]
    items = [contract_item("S1"), contract_item("S2")]

    created = await api.post(CONTRACTS_URL, json=items)
    assert created.status_code == 201
    assert_matches(schema, answer(paths["post"], 201), created.json())
    ids = created.json()["created_ids"]

    upserted = await api.post(UPSERT_URL, json=[contract_item("S1", amount="5.00")])
    assert upserted.status_code == 200
    assert_matches(schema, answer(paths["post"], 200), upserted.json())

    updated = await api.patch(CONTRACTS_URL, json=[{"id": ids[0], "status": "closed"}])
    assert updated.status_code == 200
    assert_matches(schema, answer(paths["patch"], 200), updated.json())

    listed = await api.get(CONTRACTS_URL)
    multi_get = await api.get(CONTRACTS_URL, params={"ids": ",".join(map(str, ids))})
    assert_matches(schema, answer(paths["get"], 200), listed.json())
    assert_matches(schema, answer(paths["get"], 200), multi_get.json())

    invalid = await api.post(CONTRACTS_URL, json=[{"contract_number": "no year"}])
    too_many = await api.post(CONTRACTS_URL, json=[contract_item(f"T{n}") for n in range(51)])
    assert (invalid.status_code, too_many.status_code) == (400, 413)
    assert_matches(schema, answer(paths["post"], 400), invalid.json())
    assert_matches(schema, answer(paths["post"], 413), too_many.json())

    deleted = await api.delete(CONTRACTS_URL, params={"ids": ",".join(map(str, ids))})
    assert deleted.status_code == 200
    assert_matches(schema, answer(paths["delete"], 200), deleted.json())


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("celery_worker")
async def test_bulk_answer_and_operation_status_match_the_schema(api, schema):
    items = [contract_item("B1"), contract_item("B2"), {"contract_number": "no year"}]

    accepted, status = await run_bulk(api, "POST", BULK_URL, json=items)

    assert accepted.headers["Location"] == accepted.json()["status_url"]
    assert_matches(schema, answer(schema["paths"][BULK_URL]["post"], 202), accepted.json())
    assert (status["status"], status["created_count"], status["error_count"]) == ("completed", 2, 1)
    assert_matches(schema, answer(schema["paths"][STATUS_PATH]["get"], 200), status)
    cancel = schema["paths"]["/api/operations/{operation_id}/"]["delete"]
    already_ended = await api.delete(f"/api/operations/{status['task_id']}/")
    assert already_ended.status_code == 409
    assert_matches(schema, answer(cancel, 409), already_ended.json())


# -- Swagger UI -------------------------------------------------------------------------------


@pytest.mark.filterwarnings(STATIC_FILE_WARNING)
async def test_swagger_ui_is_served_from_local_assets(api):
    response = await api.get("/api/docs/")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assets = re.findall(r'(?:src|href)="([^"]+)"', response.text)
    assert any(asset.endswith("swagger-ui-bundle.js") for asset in assets)
    assert not [asset for asset in assets if not asset.startswith("/")], assets
    assert "//" not in "".join(assets)
    assert 'url: "/api/schema/"' in response.text
    for asset in assets:
        served = await api.get(asset)
        assert served.status_code == 200, asset
        assert served.content


async def test_dry_runs_unchanged_rows_and_exports_are_documented(schema):
    listing = schema["paths"][CONTRACTS_URL]["get"]["responses"]["200"]["content"]
    writes = [schema["paths"][CONTRACTS_URL][method] for method in ("post", "put", "patch")]
    writes += [schema["paths"][BULK_URL][method] for method in ("post", "put", "patch", "delete")]

    assert {"text/csv", "application/x-ndjson"} <= set(listing)
    assert listing["text/csv"]["schema"]["type"] == "string"
    assert "id, contract_number" in listing["text/csv"]["schema"]["description"]
    for operation in writes:
        assert "dry_run" in [parameter["name"] for parameter in operation["parameters"]]
    upserted = resolve(schema, answer(schema["paths"][CONTRACTS_URL]["put"], 200)["oneOf"][1])
    assert {"unchanged_count", "unchanged_ids", "skip_unchanged", "dry_run"} <= set(
        upserted["properties"]
    )
    status = resolve(schema, answer(schema["paths"][STATUS_PATH]["get"], 200))
    assert {"unchanged_count", "dry_run", "skip_unchanged"} <= set(status["properties"])
    results = schema["paths"]["/api/operations/{operation_id}/results/"]["get"]
    kind = next(p for p in results["parameters"] if p["name"] == "kind")
    assert "unchanged" in resolve(schema, kind["schema"])["enum"]


@pytest.mark.django_db(transaction=True)
async def test_dry_run_and_unchanged_answers_match_the_schema(api, schema):
    paths = schema["paths"][CONTRACTS_URL]
    created = await api.post(f"{CONTRACTS_URL}?dry_run=true", json=[contract_item("D1")])
    stored = await api.post(CONTRACTS_URL, json=[contract_item("D1")])
    again = await api.put(UPSERT_URL, json=[contract_item("D1"), contract_item("D2")])

    assert (created.status_code, stored.status_code, again.status_code) == (201, 201, 200)
    assert_matches(schema, answer(paths["post"], 201), created.json())
    assert_matches(schema, answer(paths["put"], 200)["oneOf"][1], again.json())
    assert again.json()["unchanged_count"] == 1
