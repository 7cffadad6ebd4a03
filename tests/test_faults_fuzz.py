"""Fuzzing the API from its own OpenAPI document: whatever a client sends, never a 5xx.

Schemathesis generates requests for every operation under ``/api/`` from ``/api/schema/``, valid
ones (positive mode) and ones that break the schema (negative mode: wrong types, missing fields,
malformed bodies), and sends them over HTTP to the demo served by uvicorn. Hypothesis runs
derandomized, so CI sees the same cases every time; their number, not a stopwatch, bounds the run
(a loaded machine is slower, not wrong).
"""

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("celery_worker_settled"),
    pytest.mark.timeout(600),  # a cap against a hang: a loaded machine takes minutes
    pytest.mark.slow,
]

CASES_PER_MODE = 40
MINIMUM_CASES = 1_000


def test_a_thousand_generated_requests_never_get_a_server_error(asgi_server):
    schema = schemathesis.openapi.from_url(f"{asgi_server.http_url}/api/schema/")
    operations = [
        result.ok() for result in schema.include(path_regex=r"^/api/").get_all_operations()
    ]
    sent: list[str] = []
    server_errors: list[str] = []

    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @settings(
                max_examples=CASES_PER_MODE,
                derandomize=True,
                database=None,
                deadline=None,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(generation_mode=mode))
            def send(case) -> None:
                response = case.call(base_url=asgi_server.http_url, timeout=30)
                sent.append(case.operation.label)
                if response.status_code >= 500:
                    server_errors.append(
                        f"{response.status_code} {case.as_curl_command()}\n{response.text[:500]}"
                    )

            send()

    assert server_errors == [], "\n\n".join(server_errors[:5])
    assert len(operations) >= 16
    assert len(sent) >= MINIMUM_CASES, f"only {len(sent)} cases"
