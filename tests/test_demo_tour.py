"""The endpoint tour (docs/tour.md), run line by line against the embedded demo on a fresh database.

Each ``$ curl …`` line of the tour is run in order through ``bash``, and what it prints is compared
with the answer the the tour shows under it: status lines and headers as text, JSON bodies parsed.
Only what differs from run to run is compared by form instead of value: timestamps, and operation
ids, which the tour's later lines reuse (they are replaced by the ids this run was given).
"""

import re
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
import orjson
import pytest

from tests.fixtures.demo_server import EmbeddedDemo
from tests.fixtures.services import ROOT

TOUR = ROOT / "docs" / "tour.md"
TOUR_HOST = "localhost:8000"
TIMESTAMP_KEYS = frozenset({"created_at", "updated_at", "started_at", "finished_at"})
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
UUID_PATTERN = re.compile(UUID)
STATUS_PATH = re.compile(rf"/api/operations/({UUID})/")
ENDED = ("completed", "failed", "cancelled")

# Every endpoint of the demo (docs/semantics.md#endpoints), as a tour command must spell it.
ENDPOINTS = {
    "multi-get": r"curl .*'?localhost:8000/api/contracts/\?ids=",
    "single-object create": r"-X POST localhost:8000/api/contracts/ .*-d '\{",
    "bulk create": r"-X POST localhost:8000/api/contracts/ .*-d '\[",
    "upsert": r"-X POST '?localhost:8000/api/contracts/\?unique_fields=contract_number,year",
    "partial update by id": r"-X PATCH localhost:8000/api/contracts/ .*\"id\"",
    "replace by id": r"-X PUT localhost:8000/api/contracts/ .*\"id\"",
    "partial upsert": r"-X PATCH '?localhost:8000/api/contracts/\?unique_fields=",
    "full upsert": r"-X PUT '?localhost:8000/api/contracts/\?unique_fields=",
    "delete ?ids=": r"-X DELETE '?localhost:8000/api/contracts/\?ids=",
    "delete array body": r"-X DELETE localhost:8000/api/contracts/ .*-d '\[",
    "413": r"python3 -c",
    "csv": r"Content-Type: text/csv",
    "prefer respond-async": r"Prefer: respond-async",
    "bulk post": r"-X POST '?localhost:8000/api/contracts/bulk/",
    "bulk patch": r"-X PATCH '?localhost:8000/api/contracts/bulk/",
    "bulk put": r"-X PUT '?localhost:8000/api/contracts/bulk/",
    "bulk delete": r"-X DELETE '?localhost:8000/api/contracts/bulk/",
    "bulk get": r"curl -s '?localhost:8000/api/contracts/bulk/\?ids=",
    "operation status": rf"curl -s localhost:8000/api/operations/{UUID}/status/",
    "operation results": rf"curl -s 'localhost:8000/api/operations/{UUID}/results/\?kind=",
    "operation cancel": rf"-X DELETE localhost:8000/api/operations/{UUID}/",
    "dry run": r"dry_run=true",
}


@dataclass
class Step:
    """One ``$`` line of the tour and the text the the tour shows under it."""

    command: str
    answer: str


@dataclass
class Answer:
    """What a command printed: the status line and headers (if shown), then the JSON body."""

    head: list[str]
    body: Any


def tour_steps(page: str) -> list[Step]:
    """The commands of the tour's ``console`` blocks with their answers, in order."""
    tour = re.search(r"<!-- tour -->(.*?)<!-- /tour -->", page, re.S)
    assert tour, "docs/tour.md has no <!-- tour --> section"
    steps: list[Step] = []
    for block in re.findall(r"```console\n(.*?)```", tour.group(1), re.S):
        for line in block.splitlines():
            if line.startswith("$ "):
                steps.append(Step(line[2:], ""))
            else:
                assert steps, f"an answer before any command: {line!r}"
                steps[-1].answer += line + "\n"
    return steps


def parse_answer(text: str) -> Answer:
    """Split an answer at its first JSON line: the lines before are the head."""
    lines = [line.rstrip("\r") for line in text.strip().splitlines()]
    for number, line in enumerate(lines):
        if line.startswith(("{", "[")):
            return Answer(lines[:number], orjson.loads("\n".join(lines[number:])))
    return Answer(lines, None)


def is_timestamp(value: Any) -> bool:
    """An ISO 8601 date and time, as DRF writes them."""
    if not isinstance(value, str):
        return False
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


@dataclass
class Comparison:
    """Compares the tour's answers with served ones, learning which served operation id stands for
    which of the tour's ids as they appear."""

    served_ids: dict[str, str] = field(default_factory=dict)

    def served_command(self, command: str) -> str:
        """The command with the tour's operation ids replaced by the ones this run got."""

        def served(match: re.Match) -> str:
            tour_id = match.group(0)
            assert tour_id in self.served_ids, f"{tour_id} appears in no earlier answer"
            return self.served_ids[tour_id]

        return UUID_PATTERN.sub(served, command)

    def mismatches(self, expected: Any, actual: Any, where: str = "") -> Iterator[str]:
        """Where ``actual`` differs from the tour's ``expected`` JSON, one line each."""
        if isinstance(expected, dict) and isinstance(actual, dict):
            if set(expected) != set(actual):
                yield f"{where}: keys {sorted(actual)}, the tour shows {sorted(expected)}"
                return
            for key, value in expected.items():
                if key in TIMESTAMP_KEYS and isinstance(value, str):
                    if not is_timestamp(actual[key]):
                        yield f"{where}.{key}: {actual[key]!r} is not a timestamp"
                else:
                    yield from self.mismatches(value, actual[key], f"{where}.{key}")
        elif isinstance(expected, list) and isinstance(actual, list):
            if len(expected) != len(actual):
                yield f"{where}: {len(actual)} items, the tour shows {len(expected)}"
                return
            for index, (item, served) in enumerate(zip(expected, actual, strict=True)):
                yield from self.mismatches(item, served, f"{where}[{index}]")
        elif isinstance(expected, str) and isinstance(actual, str):
            if not self.text_matches(expected, actual):
                yield f"{where}: {actual!r}, the tour shows {expected!r}"
        elif expected != actual or type(expected) is not type(actual):
            yield f"{where}: {actual!r}, the tour shows {expected!r}"

    def text_matches(self, expected: str, actual: str) -> bool:
        """Equal text, except operation ids: each of the tour's ids stands for one served id."""
        tour_ids = UUID_PATTERN.findall(expected)
        pattern = "".join(
            f"{re.escape(text)}({UUID})" if index < len(tour_ids) else re.escape(text)
            for index, text in enumerate(UUID_PATTERN.split(expected))
        )
        match = re.fullmatch(pattern, actual)
        if not match:
            return False
        for tour_id, served_id in zip(tour_ids, match.groups(), strict=True):
            known = self.served_ids.get(tour_id)
            if known is None and served_id in self.served_ids.values():
                return False  # two of the tour's ids for one served operation
            if self.served_ids.setdefault(tour_id, served_id) != served_id:
                return False
        return True


def wait_for_operations(base_url: str, operation_ids: list[str], timeout: float = 120) -> None:
    """Wait until these operations have ended, as they have by the time a reader types the next
    line."""
    deadline = time.monotonic() + timeout
    for operation_id in operation_ids:
        status_url = f"{base_url}/api/operations/{operation_id}/status/"
        while (status := httpx.get(status_url, trust_env=False).json()["status"]) not in ENDED:
            assert time.monotonic() < deadline, f"operation {operation_id} still {status}"
            time.sleep(0.05)


def run(command: str) -> str:
    """What ``command`` prints, run by bash as a reader's shell would."""
    completed = subprocess.run(
        ["bash", "-c", command], capture_output=True, text=True, timeout=60, check=False
    )
    assert completed.returncode == 0, f"{command}\nexit {completed.returncode}: {completed.stderr}"
    return completed.stdout


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Iterator[EmbeddedDemo]:
    server = EmbeddedDemo(tmp_path_factory.mktemp("tour"), name="tour")
    yield server
    server.stop()


def test_the_tour_shows_every_endpoint():
    commands = "\n".join(step.command for step in tour_steps(TOUR.read_text()))
    missing = [name for name, pattern in ENDPOINTS.items() if not re.search(pattern, commands)]
    assert not missing, f"the tour shows no command for: {missing}"


def test_every_tour_line_answers_as_the_tour_shows(demo):
    served_host = f"127.0.0.1:{demo.port}"
    comparison = Comparison()
    ended: set[str] = set()
    for number, step in enumerate(tour_steps(TOUR.read_text()), start=1):
        command = comparison.served_command(step.command.replace(TOUR_HOST, served_host))
        started = [
            operation_id
            for operation_id in comparison.served_ids.values()
            if operation_id not in ended
        ]
        wait_for_operations(demo.url, started)
        ended.update(started)
        printed = run(command)
        expected = parse_answer(step.answer.replace(TOUR_HOST, served_host))
        actual = parse_answer(printed)
        problems = [
            f"head line {index}: {served!r}, the tour shows {line!r}"
            for index, (line, served) in enumerate(zip(expected.head, actual.head, strict=False))
            if not comparison.text_matches(line, served)
        ]
        if len(expected.head) != len(actual.head):
            problems.append(f"head {actual.head}, the tour shows {expected.head}")
        problems += comparison.mismatches(expected.body, actual.body, "body")
        assert not problems, (
            f"tour line {number}: $ {step.command}\nprinted: {printed}\n" + "\n".join(problems)
        )
