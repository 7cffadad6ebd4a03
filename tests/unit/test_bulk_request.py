"""Which requests to ``{prefix}/bulk/`` are meant for the background endpoints, and which for the
detail view of an object whose lookup value is ``bulk`` (``routers.is_bulk_request``)."""

import pytest
from django.test import RequestFactory

from django_bulk_drf.routers import is_bulk_request

URL = "/api/contracts/bulk/"


def request(method: str, body: bytes = b"", content_type: str = "application/json", **extra):
    query = extra.pop("query", "")
    return RequestFactory().generic(method, f"{URL}?{query}", body, content_type, **extra)


@pytest.mark.parametrize(
    ("method", "body", "query", "bulk"),
    [
        ("POST", b"", "", True),
        ("POST", b'{"contract_number": "A"}', "", True),
        ("GET", b"", "", False),
        ("GET", b"", "ids=1,2", True),
        ("HEAD", b"", "", False),
        ("HEAD", b"", "ids=1", True),
        ("DELETE", b"", "", False),
        ("DELETE", b"", "ids=1", True),
        ("DELETE", b"[1, 2]", "", True),
        ("OPTIONS", b"", "ids=1", False),
    ],
)
def test_methods_without_a_detail_meaning_are_bulk_by_their_ids_or_body(method, body, query, bulk):
    assert is_bulk_request(request(method, body, query=query)) is bulk


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
@pytest.mark.parametrize(
    ("body", "content_type", "bulk"),
    [
        (b'[{"id": 1}]', "application/json", True),
        (b' \n\t [{"id": 1}]', "application/json", True),
        (b'{"id": 1}', "application/json", False),
        (b"", "application/json", False),
        (b"id,amount\n1,2.00\n", "text/csv", True),
        (b"[1]", "application/x-www-form-urlencoded", False),
        (b"[1]", "text/plain", False),
    ],
)
def test_a_put_or_patch_is_bulk_when_its_body_is_an_array(method, body, content_type, bulk):
    assert is_bulk_request(request(method, body, content_type)) is bulk


def test_a_json_body_in_a_declared_charset_is_read_in_it():
    body = '[{"customer": "Zoë"}]'.encode("utf-16")

    assert is_bulk_request(request("PUT", body, "application/json; charset=utf-16"))


def test_a_json_body_over_the_upload_limit_is_bulk_without_being_read(settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10
    body = b'{"id": 1, "customer": "a long object"}'
    big = request("PATCH", body)

    assert is_bulk_request(big)
    assert not hasattr(big, "_body")  # Django would refuse to read it: it was not read
