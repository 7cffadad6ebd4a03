"""The operation record of a background bulk operation, typed, and the status body it renders.

``Status`` is the single source of the status names, their Celery names and which of them end an
operation. ``OperationRecord`` is what every module outside the stores handles: ints, flags,
timestamps and the status as themselves. How a store keeps it (Redis hashes of strings) is that
store's business; the chunk ledger keeps a JSON copy (``to_dict`` / ``from_dict``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime
from enum import StrEnum
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.urls import NoReverseMatch, get_script_prefix, get_urlconf, reverse

from ..actions import OPERATIONS
from ..metrics import operation_metrics
from ..settings import bulk_settings
from ..writers import ID_NAMES, WriteResult
from .lists import STATUS_LIST_LIMIT, Page, by_index

#: The id lists of an operation, named as ``WriteResult`` names them.
ID_LISTS = ID_NAMES
#: The counters of an operation, in the order of its status body.
COUNTERS = (
    "processed",
    "created_count",
    "updated_count",
    "deleted_count",
    "error_count",
    "unchanged_count",
)
PROGRESS_EVENT = "operation.progress"


class Status(StrEnum):
    """``pending → running → completed | failed | cancelled``, with the Celery name of each."""

    celery_state: str
    is_terminal: bool

    def __new__(cls, value: str, celery_state: str, is_terminal: bool) -> Status:
        member = str.__new__(cls, value)
        member._value_ = value
        member.celery_state = celery_state
        member.is_terminal = is_terminal
        return member

    PENDING = "pending", "PENDING", False
    RUNNING = "running", "PROGRESS", False
    COMPLETED = "completed", "SUCCESS", True
    FAILED = "failed", "FAILURE", True
    CANCELLED = "cancelled", "REVOKED", True

    @classmethod
    def of(cls, value: str) -> Status:
        """The status whose value is ``value`` (``Status("running")``, which a type checker
        reads as a call to ``__new__``)."""
        return cls(value)  # type: ignore[call-arg]

    @property
    def event(self) -> str:
        """The type of the event published when an operation reaches this status."""
        return f"operation.{self.value}" if self.is_terminal else PROGRESS_EVENT


def now() -> datetime:
    return datetime.now(UTC)


def isoformat(moment: datetime) -> str:
    """A timestamp as the status body writes it (ISO 8601, ``Z`` for UTC)."""
    return moment.isoformat().replace("+00:00", "Z")


def new_operation_id() -> str:
    return str(uuid.uuid4())


def parse_operation_id(value: str) -> str | None:
    """The canonical form of a uuid4 string, or None when it is not one."""
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        return None


@dataclass(frozen=True)
class OperationRecord:
    """One background operation: the request that started it, its counters and its status.

    Frozen: a store hands out records (and publishes them) without copying; a change is a new
    record (``dataclasses.replace``).
    """

    task_id: str
    operation: str
    #: The primary key (as a string) of the user who started it; None for an anonymous client.
    owner_id: str | None
    #: The request, as the worker rebuilds it: viewset class path, its ``action`` and basename.
    viewset: str
    action: str | None
    basename: str | None
    method: str
    path: str
    query_string: str
    unique_fields: tuple[str, ...]
    partial: bool
    total: int
    chunk_size: int
    chunks_total: int
    status: Status = Status.PENDING
    message: str = ""
    chunks_done: int = 0
    cancel_requested: bool = False
    seq: int = 0
    #: Time the workers spent on its chunks, summed.
    work_ms: int = 0
    processed: int = 0
    created_count: int = 0
    updated_count: int = 0
    deleted_count: int = 0
    error_count: int = 0
    created_at: datetime = field(default_factory=now)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    #: ``?dry_run=true``: its chunks are rolled back; the created list holds item indices.
    dry_run: bool = False
    #: Whether items equal to their stored row were left alone.
    skip_unchanged: bool = False
    unchanged_count: int = 0

    @property
    def result_lists(self) -> tuple[str, ...]:
        """The lists that make the ``result`` once the operation has ended (a get's rows too)."""
        return (*ID_LISTS, "results") if OPERATIONS[self.operation].reads else ID_LISTS

    def counted(self, report: ChunkReport) -> OperationRecord:
        """This record with a chunk's counts added."""
        return replace(
            self, **{name: getattr(self, name) + amount for name, amount in report.increments()}
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready copy (the chunk ledger keeps one)."""
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["status"] = self.status.value
        data["unique_fields"] = list(self.unique_fields)
        for name in TIMESTAMPS:
            data[name] = isoformat(data[name]) if data[name] else None
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OperationRecord:
        """The record ``to_dict`` gave."""
        timestamps = {name: datetime.fromisoformat(data[name]) for name in TIMESTAMPS if data[name]}
        return cls(
            **{
                **data,
                **timestamps,
                "status": Status.of(data["status"]),
                "unique_fields": tuple(data["unique_fields"]),
            }
        )


TIMESTAMPS = ("created_at", "started_at", "finished_at")


@dataclass
class ChunkReport:
    """What one chunk did, as reported to the operation record: the ``WriteResult`` of its
    write, the items it refused and, for a get, the rows it read."""

    processed: int
    written: WriteResult = field(default_factory=WriteResult)
    errors: list[dict[str, Any]] = field(default_factory=list)
    results: list[Any] = field(default_factory=list)
    work_ms: int = 0

    def increments(self) -> list[tuple[str, int]]:
        """What the chunk adds to the record's counters."""
        return [
            ("processed", self.processed),
            *((f"{name[:-4]}_count", len(values)) for name, values in self.ids()),
            ("error_count", len(self.errors)),
            ("chunks_done", 1),
            ("work_ms", self.work_ms),
        ]

    def ids(self) -> list[tuple[str, list[Any]]]:
        return [(name, getattr(self.written, name)) for name in ID_LISTS]

    def lists(self) -> dict[str, list[Any]]:
        """What the chunk adds to the operation's lists: its segment of each (errors by index)."""
        return {**dict(self.ids()), "errors": by_index(self.errors), "results": self.results}

    def to_dict(self) -> dict[str, Any]:
        """What the chunk ledger keeps of a committed chunk."""
        return {"processed": self.processed, **dict(self.ids()), "errors": self.errors}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ChunkReport:
        written = WriteResult(**{name: data.get(name, []) for name in ID_LISTS})
        return cls(data["processed"], written, data["errors"])


PLACEHOLDER_ID = "00000000-0000-0000-0000-000000000000"


def operation_url(operation_id: str, name: str) -> str:
    """The URL of an operation's ``status`` or ``results`` endpoint (the default route when
    ``django_bulk_drf.urls`` is not in the project's URLconf)."""
    urlconf = get_urlconf() or settings.ROOT_URLCONF
    return url_template(name, urlconf, get_script_prefix()).replace(PLACEHOLDER_ID, operation_id)


@lru_cache(maxsize=64)
def url_template(name: str, urlconf: str, prefix: str) -> str:
    """The URL of ``name`` for a placeholder id, reversed once per URLconf: every status body
    carries one, and reversing costs more than the rest of the body."""
    try:
        return reverse(f"bulk-operation-{name}", urlconf=urlconf, args=[PLACEHOLDER_ID])
    except NoReverseMatch:
        return f"/api/operations/{PLACEHOLDER_ID}/{name}/"


def render_status(
    record: OperationRecord,
    errors: list[Any] | None = None,
    result: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The public status body of an operation, from its record: ``errors`` and ``result`` hold
    the first ``STATUS_LIST_LIMIT`` values of each list; ``results_url`` pages through them all."""
    total, processed = record.total, record.processed
    status: dict[str, Any] = {
        "task_id": record.task_id,
        "operation": record.operation,
        "status": record.status.value,
        "state": record.status.celery_state,
        "progress": {
            "processed": processed,
            "total": total,
            "percent": round(100.0 * processed / total, 1) if total else 100.0,
        },
        **{counter: getattr(record, counter) for counter in COUNTERS if counter != "processed"},
        "errors": errors if errors is not None else [],
        "result": result,
        "results_url": operation_url(record.task_id, "results"),
        "created_at": isoformat(record.created_at),
        "started_at": isoformat(record.started_at) if record.started_at else None,
        "finished_at": isoformat(record.finished_at) if record.finished_at else None,
        "seq": record.seq,
        "is_async": True,
    }
    if record.error_count > STATUS_LIST_LIMIT:
        status["errors_truncated"] = True
    if record.message:
        status["message"] = record.message
    if record.unique_fields:
        status["unique_fields"] = list(record.unique_fields)
    if OPERATIONS[record.operation].changes_rows:
        status["skip_unchanged"] = record.skip_unchanged
    if record.dry_run:
        status["dry_run"] = True
    if bulk_settings.ENABLE_METRICS:
        status["metrics"] = operation_metrics(record)
    return status


@dataclass
class Snapshot:
    """One consistent read of an operation: its record, the first page of its errors and, once it
    has ended, the first page of each of its ``result_lists``."""

    record: OperationRecord
    errors: Page
    lists: dict[str, Page]

    def render(self) -> dict[str, Any]:
        result: dict[str, Any] | None = None
        if self.record.status.is_terminal:
            result = {name: page.values for name, page in self.lists.items()}
            if any(self.lists[name].next for name in ID_LISTS):
                result["ids_truncated"] = True
            if "results" in self.lists and self.lists["results"].next:
                result["results_truncated"] = True
        return render_status(self.record, self.errors.values, result)
