"""Parity with adrf: every request that is not a bulk request is answered exactly as adrf 0.1.14's
``ModelViewSet`` + ``DefaultRouter`` answers it.

The same model, serializer and viewset bodies are mounted three times (``tests/parityapp``): on
adrf's ``ModelViewSet`` + ``DefaultRouter`` (the reference), on ``BulkModelViewSet`` +
``BulkRouter``, and on ``BulkModelViewSet`` + adrf's ``DefaultRouter``. Each mount serves the same
paths (``ROOT_URLCONF`` switches between them), and each scenario runs on a freshly seeded table,
so the answers (status, headers, body) and the rows left behind must be identical.

``SCENARIOS`` is the table: one line per scenario. The differences the contract asks for
(``?ids=``, ``?unique_fields=``, arrays, PUT/PATCH/DELETE on the list URL and the ``Allow`` header
that lists them) are asserted as such at the end.
"""

# ruff: noqa: E501 - the scenario table keeps one scenario per line

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from typing import Any

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.test import override_settings
from rest_framework.test import APIClient

from tests.parityapp.models import Widget

ADRF = "tests.parityapp.urls_adrf"
BULK = "tests.parityapp.urls_bulk"
BULK_ON_ADRF_ROUTER = "tests.parityapp.urls_bulk_on_adrf_router"

SEED = [
    {"id": 1, "name": "Alpha", "slug": "alpha", "count": 3, "amount": "1.50", "data": {"a": 1}},
    {"id": 2, "name": "Bulky", "slug": "bulk", "count": 7, "amount": "2.00", "data": [1, 2]},
    {"id": 3, "name": "Gamma", "slug": "gamma", "count": 1, "amount": "0.00", "data": {}},
]
JSON = "application/json"
HTML = {"HTTP_ACCEPT": "text/html"}
BIG = 1234567890123456789012345678901234567890  # 40 digits
WIDGET = {"name": "Delta", "slug": "delta", "count": 4, "amount": "2.50", "data": {"k": [1]}}
FULL = {"name": "Alpha 2", "slug": "alpha", "count": 5, "amount": "9.99", "data": None}
# The list URL of the BulkRouter mount allows PUT, PATCH and DELETE too (an intended difference,
# asserted in test_list_url_allows_the_bulk_methods): its other answers must match.
BULK_LIST_ALLOW = "GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS"
ADRF_LIST_ALLOW = "GET, POST, HEAD, OPTIONS"
HTML_ALLOW = '<b>Allow:</b> <span class="lit">%s</span>'


@dataclass(frozen=True)
class Step:
    method: str
    path: str
    body: bytes = b""
    content_type: str = JSON
    headers: dict[str, str] = field(default_factory=dict)


def get(path: str, **headers: str) -> Step:
    return Step("GET", path, headers=headers)


def send(method: str, path: str, body: Any, content_type: str = JSON, **headers: str) -> Step:
    """A request with a body: ``bytes`` as they are, ``str`` as UTF-8, anything else as JSON."""
    if isinstance(body, str):
        body = body.encode()
    elif not isinstance(body, bytes):
        body = json.dumps(body).encode()
    return Step(method, path, body, content_type, headers)


def post(path: str, body: Any, content_type: str = JSON, **headers: str) -> Step:
    return send("POST", path, body, content_type, **headers)


def put(path: str, body: Any, content_type: str = JSON, **headers: str) -> Step:
    return send("PUT", path, body, content_type, **headers)


def patch(path: str, body: Any, content_type: str = JSON, **headers: str) -> Step:
    return send("PATCH", path, body, content_type, **headers)


def method(name: str, path: str, **headers: str) -> Step:
    return Step(name, path, headers=headers)


@dataclass(frozen=True)
class Scenario:
    name: str
    steps: list[Step]
    settings: dict[str, Any] = field(default_factory=dict)


def bulk_rate(rate: str) -> dict[str, Any]:
    """Settings with the ``bulk`` throttle scope at ``rate``."""
    return {"REST_FRAMEWORK": {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"bulk": rate}}}


S = Scenario
FORM = "application/x-www-form-urlencoded"
UTF16 = "application/json; charset=utf-16"
LATIN1 = "application/json; charset=iso-8859-1"
LIMIT = {"DATA_UPLOAD_MAX_MEMORY_SIZE": 100}
ASYNC = {"HTTP_PREFER": "respond-async"}

# fmt: off
SCENARIOS = [
    # -- the standard actions --------------------------------------------------------------------
    S("api root", [get("/api/")]),
    S("list", [get("/api/widgets/")]),
    S("list with a format suffix", [get("/api/widgets.json")]),
    S("list with ?format=", [get("/api/widgets/?format=json")]),
    S("list without its trailing slash", [get("/api/widgets")]),
    S("list in an unsupported media type", [get("/api/widgets/", HTTP_ACCEPT="application/xml")]),
    S("HEAD on the list", [method("HEAD", "/api/widgets/")]),
    S("retrieve", [get("/api/widgets/1/")]),
    S("retrieve with a format suffix", [get("/api/widgets/1.json")]),
    S("retrieve a missing object", [get("/api/widgets/999/")]),
    S("HEAD on an object", [method("HEAD", "/api/widgets/1/")]),
    S("create", [post("/api/widgets/", WIDGET)]),
    S("create, then read the list", [post("/api/widgets/", WIDGET), get("/api/widgets/")]),
    S("create, invalid", [post("/api/widgets/", {"name": "x" * 60, "count": "many"})]),
    S("create, duplicate slug", [post("/api/widgets/", {**WIDGET, "slug": "alpha"})]),
    S("create from a form", [post("/api/widgets/", "name=F&slug=f&count=2", FORM)]),
    S("create, unsupported media type", [post("/api/widgets/", "name=F", "text/plain")]),
    S("create with an empty body", [post("/api/widgets/", b"")]),
    S("create with Prefer: respond-async", [post("/api/widgets/", WIDGET, **ASYNC)]),
    S("update", [put("/api/widgets/1/", FULL)]),
    S("update, invalid", [put("/api/widgets/1/", {"name": "only a name"})]),
    S("update a missing object", [put("/api/widgets/999/", FULL)]),
    S("partial update", [patch("/api/widgets/1/", {"count": 9})]),
    S("partial update, invalid", [patch("/api/widgets/1/", {"count": "nine"})]),
    S("destroy", [method("DELETE", "/api/widgets/1/"), get("/api/widgets/")]),
    S("destroy a missing object", [method("DELETE", "/api/widgets/999/")]),
    S("POST on an object", [post("/api/widgets/1/", WIDGET)]),
    # -- pagination, filters ---------------------------------------------------------------------
    S("first page", [get("/api/paged-widgets/")]),
    S("second page", [get("/api/paged-widgets/?page=2")]),
    S("page out of range", [get("/api/paged-widgets/?page=9")]),
    S("search", [get("/api/widgets/?search=alp")]),
    S("ordering", [get("/api/widgets/?ordering=-count")]),
    S("search and ordering on pages", [get("/api/paged-widgets/?search=a&ordering=name&page=2")]),
    # -- extra actions ---------------------------------------------------------------------------
    S("sync @action", [get("/api/widgets/stats/")]),
    S("async @action on an object", [post("/api/widgets/1/rename/", {"name": "New"})]),
    S("async @action on a missing object", [post("/api/widgets/999/rename/", {"name": "New"})]),
    S("@action calling self.alist()", [get("/api/widgets/everything/")]),
    S("@action calling self.alist() with ?ids=", [get("/api/widgets/everything/?ids=1")]),
    S("@action with the wrong method", [method("DELETE", "/api/widgets/stats/")]),
    # -- OPTIONS, browsable API ------------------------------------------------------------------
    S("OPTIONS on the list", [method("OPTIONS", "/api/widgets/")]),
    S("OPTIONS on an object", [method("OPTIONS", "/api/widgets/1/")]),
    S("OPTIONS on an @action", [method("OPTIONS", "/api/widgets/stats/")]),
    S("browsable API, list", [get("/api/widgets/", **HTML)]),
    S("browsable API, object", [get("/api/widgets/1/", **HTML)]),
    S("browsable API, page", [get("/api/paged-widgets/?page=2", **HTML)]),
    S("browsable API, create", [post("/api/widgets/", WIDGET, **HTML)]),
    S("browsable API, parse error", [post("/api/widgets/", "{", **HTML)]),
    # -- parse errors ----------------------------------------------------------------------------
    S("truncated JSON", [post("/api/widgets/", '{"name": ')]),
    S("not JSON", [post("/api/widgets/", "nope")]),
    S("truncated JSON array", [post("/api/widgets/", "[1,")]),
    S("NaN", [post("/api/widgets/", '{"name": "n", "slug": "n", "data": NaN}')]),
    S("Infinity", [post("/api/widgets/", '{"name": "n", "slug": "n", "data": -Infinity}')]),
    S("1e400", [post("/api/widgets/", '{"name": "n", "slug": "n", "data": 1e400}')]),
    S("trailing garbage", [post("/api/widgets/", '{"name": "n"} x')]),
    S("invalid UTF-8", [post("/api/widgets/", b'{"name": "\xff"}')]),
    S("UTF-8 byte-order mark", [post("/api/widgets/", b'\xef\xbb\xbf{"name": "n"}')]),
    S("lone surrogate", [post("/api/widgets/", '{"name": "\\ud800", "slug": "s"}')]),
    S("truncated JSON on an object", [put("/api/widgets/1/", '{"name": ')]),
    S("a JSON string", [post("/api/widgets/", '"text"')]),
    S("a JSON number", [post("/api/widgets/", "12")]),
    S("null", [post("/api/widgets/", "null")]),
    # -- big integers: stored exactly, or refused naming the field --------------------------------
    S("40-digit integer in a JSONField", [post("/api/widgets/", {**WIDGET, "data": {"n": BIG}})]),
    S("40-digit integers in a JSON array", [post("/api/widgets/", {**WIDGET, "data": [BIG, -BIG]})]),
    S("20-digit integer in a DecimalField", [post("/api/widgets/", {**WIDGET, "amount": 10**19})]),
    S("40-digit integer in a DecimalField", [post("/api/widgets/", {**WIDGET, "amount": BIG})]),
    S("40-digit integer in an IntegerField", [post("/api/widgets/", {**WIDGET, "count": BIG})]),
    S("big integers on an object", [patch("/api/widgets/1/", {"data": BIG, "amount": -(10**20)})]),
    S("a bare 40-digit integer", [post("/api/widgets/", str(BIG))]),
    # -- charsets --------------------------------------------------------------------------------
    S("UTF-16", [post("/api/widgets/", json.dumps(WIDGET).encode("utf-16"), UTF16)]),
    S("Latin-1", [post("/api/widgets/", '{"name": "Caf\xe9", "slug": "cafe"}'.encode("latin-1"), LATIN1)]),
    S("UTF-16 on an object", [patch("/api/widgets/1/", '{"name": "\u00e9t\u00e9"}'.encode("utf-16"), UTF16)]),
    S("unknown charset", [post("/api/widgets/", WIDGET, "application/json; charset=no-such-codec")]),
    S("non-text charset", [post("/api/widgets/", WIDGET, "application/json; charset=bz2_codec")]),
    # -- the project's parsers -------------------------------------------------------------------
    S("project parser", [post("/api/widgets/", "name=Kv\nslug=kv\ncount=2", "text/x-key-value")]),
    S("project parser on an object", [patch("/api/widgets/1/", "name=Kv", "text/x-key-value")]),
    S("CSV on an object", [put("/api/widgets/1/", "name,slug\nA,a\n", "text/csv")]),
    # -- size limits -----------------------------------------------------------------------------
    S("object over DATA_UPLOAD_MAX_MEMORY_SIZE", [post("/api/widgets/", {**WIDGET, "name": "x" * 40})], LIMIT),
    S("object within DATA_UPLOAD_MAX_MEMORY_SIZE", [post("/api/widgets/", WIDGET)], LIMIT),
    S("malformed body over DATA_UPLOAD_MAX_MEMORY_SIZE", [post("/api/widgets/", "{" * 120)], LIMIT),
    S("update over DATA_UPLOAD_MAX_MEMORY_SIZE", [put("/api/widgets/1/", {**FULL, "name": "y" * 45})], LIMIT),
    # -- throttles -------------------------------------------------------------------------------
    S("throttled after five requests", [get("/api/widgets/")] * 6),
    S("throttled creates", [post("/api/widgets/", {**WIDGET, "slug": f"t{n}"}) for n in range(6)]),
    S("single objects under Prefer: respond-async and a bulk rate", [post("/api/widgets/", {**WIDGET, "slug": f"p{n}"}, **ASYNC) for n in range(3)], bulk_rate("1/min")),
    S("single updates under Prefer: respond-async and a bulk rate", [patch("/api/widgets/1/", {"count": n}, **ASYNC) for n in range(3)], bulk_rate("1/min")),
    # -- custom lookup field, and the lookup value "bulk" ----------------------------------------
    S("retrieve by slug", [get("/api/slug-widgets/alpha/")]),
    S("retrieve the slug 'bulk'", [get("/api/slug-widgets/bulk/")]),
    S("HEAD on the slug 'bulk'", [method("HEAD", "/api/slug-widgets/bulk/")]),
    S("update the slug 'bulk'", [put("/api/slug-widgets/bulk/", {**FULL, "slug": "bulk"})]),
    S("partial update of the slug 'bulk'", [patch("/api/slug-widgets/bulk/", {"count": 8})]),
    S("destroy the slug 'bulk'", [method("DELETE", "/api/slug-widgets/bulk/")]),
    S("OPTIONS on the slug 'bulk'", [method("OPTIONS", "/api/slug-widgets/bulk/")]),
    S("@action on the slug 'bulk'", [post("/api/slug-widgets/bulk/rename/", {"name": "B"})]),
    S("the slug 'bulk' with a format suffix", [get("/api/slug-widgets/bulk.json")]),
    S("the slug 'bulk' under a bulk rate", [get("/api/slug-widgets/bulk/")] * 3, bulk_rate("1/min")),
    S("the pk 'bulk'", [get("/api/widgets/bulk/")]),
    S("PUT of the pk 'bulk'", [put("/api/widgets/bulk/", FULL)]),
    S("PATCH of the pk 'bulk'", [patch("/api/widgets/bulk/", {"count": 1})]),
    S("DELETE of the pk 'bulk'", [method("DELETE", "/api/widgets/bulk/")]),
]
# fmt: on


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: str


CSRF_TOKEN = re.compile(r'(csrfmiddlewaretoken" value="|"csrfToken": ")[^"]+')


def answer_of(response: Any) -> Answer:
    """What the client sees, with the per-request CSRF token of the browsable API masked."""
    body = response.content.decode("utf-8", "replace")
    return Answer(response.status_code, dict(response.items()), CSRF_TOKEN.sub(r"\1<token>", body))


def without_list_url_extras(answer: Answer, reference: Answer) -> Answer:
    """An answer of the BulkRouter mount's list URL, without what the contract adds there (see
    test_list_url_allows_the_bulk_methods): PUT, PATCH and DELETE in ``Allow`` and in the
    browsable API's copy of it, and the browsable API's forms for them, which may only be
    inserted into adrf's page."""
    if answer.headers.get("Allow") != BULK_LIST_ALLOW:
        return answer
    headers = {**answer.headers, "Allow": ADRF_LIST_ALLOW}
    body = answer.body.replace(HTML_ALLOW % BULK_LIST_ALLOW, HTML_ALLOW % ADRF_LIST_ALLOW)
    if body != reference.body and headers["Content-Type"].startswith("text/html"):
        for block in inserted_blocks(reference.body, body):
            assert any(f'data-method="{method}"' in block for method in ("PUT", "PATCH", "DELETE"))
        body, headers["Content-Length"] = reference.body, reference.headers["Content-Length"]
    return Answer(answer.status, headers, body)


def inserted_blocks(reference: str, text: str) -> list[str]:
    """The blocks of lines ``text`` adds to ``reference``; anything else changed fails."""
    old, new = reference.splitlines(), text.splitlines()
    blocks = []
    for tag, i1, i2, j1, j2 in SequenceMatcher(None, old, new, autojunk=False).get_opcodes():
        assert tag in ("equal", "insert"), (tag, old[i1:i2], new[j1:j2])
        if tag == "insert":
            blocks.append("\n".join(new[j1:j2]))
    return blocks


def reseed() -> None:
    """The same rows, and the same next id, before every run."""
    Widget.objects.all().delete()
    Widget.objects.bulk_create([Widget(**row) for row in SEED])
    with connection.cursor() as cursor:
        cursor.execute("SELECT setval(pg_get_serial_sequence('parityapp_widget', 'id'), 100)")


def rows() -> list[dict[str, Any]]:
    return list(Widget.objects.order_by("id").values())


def responses(steps: list[Step], mount: str, **settings: Any) -> list[Any]:
    """The responses of one mount to ``steps``, on freshly seeded rows."""
    reseed()
    client_address = f"client-{uuid.uuid4().hex}"  # the throttles count each run apart
    with override_settings(ROOT_URLCONF=mount, **settings):
        client = APIClient(raise_request_exception=False)
        return [
            client.generic(
                step.method,
                step.path,
                step.body,
                step.content_type,
                REMOTE_ADDR=client_address,
                **step.headers,
            )
            for step in steps
        ]


def run(scenario: Scenario, mount: str) -> tuple[list[Answer], list[dict[str, Any]]]:
    """The answers of one mount to the scenario's requests, and the rows they leave."""
    steps = responses(scenario.steps, mount, **scenario.settings)
    return [answer_of(response) for response in steps], rows()


@pytest.mark.django_db
@pytest.mark.parametrize("mount", [BULK, BULK_ON_ADRF_ROUTER], ids=["BulkRouter", "adrf-router"])
@pytest.mark.parametrize("scenario", SCENARIOS, ids=[scenario.name for scenario in SCENARIOS])
def test_answers_as_adrf(scenario: Scenario, mount: str) -> None:
    expected_answers, expected_rows = run(scenario, ADRF)
    answers, rows_left = run(scenario, mount)
    if mount == BULK:
        answers = [
            without_list_url_extras(answer, reference)
            for answer, reference in zip(answers, expected_answers, strict=True)
        ]
    assert (answers, rows_left) == (expected_answers, expected_rows)


# -- what the contract adds, asserted as such ----------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("mount", [ADRF, BULK, BULK_ON_ADRF_ROUTER])
def test_list_url_allows_the_bulk_methods(mount: str) -> None:
    """BulkRouter routes PUT, PATCH and DELETE on the list URL, and ``Allow`` says so; with
    adrf's router the list URL is adrf's."""
    routed = mount == BULK
    steps = [
        method("OPTIONS", "/api/widgets/"),
        put("/api/widgets/", [{**FULL, "id": 1, "data": {"b": 2}}]),
        patch("/api/widgets/", [{"id": 2, "count": 8}]),
        method("DELETE", "/api/widgets/?ids=3"),
    ]
    options, *bulk = responses(steps, mount)
    assert options["Allow"] == (BULK_LIST_ALLOW if routed else ADRF_LIST_ALLOW)
    assert "PUT" not in options.json()["actions"]
    assert [response.status_code for response in bulk] == ([200] * 3 if routed else [405] * 3)
    if routed:
        assert [response.json()["message"] for response in bulk] == [
            "Bulk update completed successfully",
            "Bulk update completed successfully",
            "Bulk delete completed successfully",
        ]


@pytest.mark.django_db
@pytest.mark.parametrize("mount", [ADRF, BULK, BULK_ON_ADRF_ROUTER])
def test_list_url_reads_ids_arrays_and_unique_fields(mount: str) -> None:
    """``?ids=`` on the list, arrays (JSON and CSV) and ``?unique_fields=`` on POST: the bulk
    viewset's, whichever router; adrf lists, and refuses arrays."""
    steps = [
        get("/api/widgets/?ids=1,3,99"),
        post("/api/widgets/", [WIDGET, {**WIDGET, "slug": "epsilon"}]),
        post("/api/widgets/", "name,slug\nZeta,zeta\n", "text/csv"),
        post("/api/widgets/?unique_fields=slug", {"name": "Alpha again", "slug": "alpha"}),
    ]
    multi_get, array, csv_array, upsert = responses(steps, mount)
    if mount == ADRF:
        assert multi_get.status_code == 200 and len(multi_get.json()) == 3
        assert array.json() == {
            "non_field_errors": ["Invalid data. Expected a dictionary, but got list."]
        }
        assert (csv_array.status_code, upsert.status_code) == (415, 400)
        return
    assert multi_get.json() == {
        "count": 2,
        "results": [row for row in SEED if row["id"] in (1, 3)],
        "is_sync": True,
    }
    assert (array.status_code, array.json()["created_count"]) == (201, 2)
    assert (csv_array.status_code, csv_array.json()["created_count"]) == (201, 1)
    assert (upsert.status_code, upsert.json()["updated_ids"]) == (200, [1])


@pytest.mark.django_db
@pytest.mark.parametrize("mount", [ADRF, BULK, BULK_ON_ADRF_ROUTER])
def test_arrays_are_bounded_by_max_records_not_the_upload_size(mount: str) -> None:
    """DATA_UPLOAD_MAX_MEMORY_SIZE caps single objects as DRF does (the scenarios above); an
    array body is bounded by BULK_DRF_MAX_RECORDS instead."""
    batch = [{**WIDGET, "slug": f"s{n}"} for n in range(3)]
    with override_settings(BULK_DRF_MAX_RECORDS=2):
        too_many, within = responses(
            [post("/api/widgets/", batch), post("/api/widgets/", batch[:2])], mount, **LIMIT
        )
    if mount == ADRF:
        assert (too_many.status_code, within.status_code) == (400, 400)
        assert b"Bad Request" in within.content
        return
    assert (too_many.status_code, too_many.json()["max_records"]) == (413, 2)
    assert (within.status_code, within.json()["created_count"]) == (201, 2)


@pytest.mark.django_db
def test_breadcrumb_of_the_object_named_bulk_names_the_bulk_route() -> None:
    """The one trace of the shared URL: the browsable API's breadcrumb of the object whose
    lookup value is ``bulk`` names the route that URL resolves to."""
    (adrf_page,) = responses([get("/api/slug-widgets/bulk/", **HTML)], ADRF)
    (page,) = responses([get("/api/slug-widgets/bulk/", **HTML)], BULK)
    crumb = '<li class="active"><a href="/api/slug-widgets/bulk/">Slug Widget %s</a></li>'
    assert crumb % "Instance" in adrf_page.content.decode()
    assert crumb % "Bulk" in page.content.decode()
    assert page.status_code == 200 and "&quot;slug&quot;: &quot;bulk&quot;" in page.content.decode()


# -- registration ----------------------------------------------------------------------------------


def url_table(router: Any) -> list[tuple[str, str | None, Any]]:
    return [
        (str(url.pattern), url.name, getattr(url.callback, "actions", None)) for url in router.urls
    ]


def test_plain_adrf_viewset_gets_adrf_routes_on_bulk_router() -> None:
    """A plain adrf viewset, even with actions named like the bulk handlers, is routed by
    BulkRouter as adrf's DefaultRouter routes it."""
    from adrf.routers import DefaultRouter
    from adrf.viewsets import ModelViewSet
    from rest_framework.decorators import action
    from rest_framework.response import Response

    from django_bulk_drf.routers import BulkRouter
    from tests.parityapp.serializers import WidgetSerializer

    class PlainViewSet(ModelViewSet):
        queryset = Widget.objects.all()
        serializer_class = WidgetSerializer

        @action(detail=False, methods=["delete"])
        async def bulk_destroy(self, request):
            return Response(status=204)

        @action(detail=False, methods=["put"])
        async def bulk_update(self, request):
            return Response()

        @action(detail=True, methods=["patch"])
        async def bulk_partial_update(self, request, pk=None):
            return Response()

    routers = (BulkRouter(), DefaultRouter())
    for router in routers:
        router.register("plain", PlainViewSet, basename="plain")
    assert url_table(routers[0]) == url_table(routers[1])


@pytest.mark.parametrize("option", ["url_path", "url_name"])
def test_extra_action_at_bulk_is_refused_at_registration(option: str) -> None:
    """An extra list action that ``/bulk/`` would shadow is an ImproperlyConfigured."""
    from rest_framework.decorators import action
    from rest_framework.response import Response

    from django_bulk_drf.routers import BulkRouter
    from django_bulk_drf.viewsets import BulkModelViewSet
    from tests.parityapp.serializers import WidgetSerializer

    class ShadowedViewSet(BulkModelViewSet):
        queryset = Widget.objects.all()
        serializer_class = WidgetSerializer

        @action(detail=False, methods=["post"], **{option: "bulk"})
        async def mass_import(self, request):
            return Response()

    router = BulkRouter()
    router.register("shadowed", ShadowedViewSet, basename="shadowed")
    with pytest.raises(ImproperlyConfigured, match=r"ShadowedViewSet has an extra action at bulk/"):
        router.get_urls()


# -- which requests to {prefix}/bulk/ are bulk requests ------------------------------------------

# fmt: off
BULK_URL_REQUESTS = [
    # (method, query, body, content type, a bulk request?)
    ("POST", "", b"[]", JSON, True),
    ("POST", "", b"{}", JSON, True),
    ("GET", "ids=1,2", b"", JSON, True),
    ("GET", "", b"", JSON, False),
    ("HEAD", "", b"", JSON, False),
    ("OPTIONS", "", b"", JSON, False),
    ("DELETE", "ids=1", b"", JSON, True),
    ("DELETE", "", b"[1, 2]", JSON, True),
    ("DELETE", "", b"", JSON, False),
    ("PUT", "", b' \n [{"id": 1}]', JSON, True),
    ("PATCH", "", b'{"count": 1}', JSON, False),
    ("PATCH", "", '[{"id": 1}]'.encode("utf-16"), UTF16, True),
    ("PATCH", "", '{"count": 1}'.encode("utf-16"), UTF16, False),
    ("PUT", "", b"[" + b" " * 200 + b"]", JSON, True),  # over DATA_UPLOAD_MAX_MEMORY_SIZE: not read
    ("PUT", "", b"id,count\n1,2\n", "text/csv", True),
    ("PUT", "", b"count=1", FORM, False),
    ("PATCH", "", b"", JSON, False),
]
# fmt: on


@pytest.mark.parametrize(("verb", "query", "body", "content_type", "bulk"), BULK_URL_REQUESTS)
def test_requests_to_the_bulk_url_that_are_bulk_requests(
    verb: str, query: str, body: bytes, content_type: str, bulk: bool
) -> None:
    """``{prefix}/bulk/`` serves the background endpoints; the other requests there are the
    detail route's, for the lookup value ``bulk``."""
    from rest_framework.test import APIRequestFactory

    from django_bulk_drf.routers import is_bulk_request

    request = APIRequestFactory().generic(
        verb, f"/api/slug-widgets/bulk/?{query}", body, content_type
    )
    with override_settings(**LIMIT):
        assert is_bulk_request(request) is bulk
