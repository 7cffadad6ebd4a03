"""The bulk actions and the operation kinds they run, declared once.

An *operation kind* (``CREATE``, ``UPSERT``, …) says what its items are and how they name their
rows, which write hook of the viewset runs it, and what its synchronous answer holds. Its ``name``
is what an operation's record and status call it, and the verb of the ``202`` message.

A *bulk action* is one handler of ``BulkOperationsMixin``: its HTTP method, its route (the list
URL, answered at once, or ``/bulk/``, run in the background) and the kinds it runs (the first one,
or the upsert with ``?unique_fields=``).

The rest of the package reads these tables rather than spelling an action or a kind again:
``BulkRouter`` (its routes), ``payloads`` (which kind a request runs), the validator (how items
name their rows), ``execution`` (which hook writes), ``answers`` (the answer bodies) and the
OpenAPI schema. A new kind is one ``OperationKind`` here (listed in ``OPERATIONS`` and in the
actions that run it), plus its ``perform_bulk_*`` hook and its writer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum


class RowKey(StrEnum):
    """What the items of an operation are, and how each names the row it is about."""

    #: The items are primary keys (get, delete).
    IDS = "ids"
    #: Objects for new rows: they name none (create).
    NONE = "none"
    #: Objects naming an existing row by its primary key (update, replace).
    PK = "pk"
    #: Objects naming a row by the ``?unique_fields=`` values; absent rows are inserted (upsert).
    UNIQUE_FIELDS = "unique_fields"


@dataclass(frozen=True)
class SyncAnswer:
    """The answer of a synchronous write:
    ``{message, total_items, <list>_count…, <list>_ids…, is_sync}``."""

    message: str
    #: The id lists it reports, of ``created`` / ``updated`` / ``deleted``.
    id_lists: tuple[str, ...]
    #: Its component in the OpenAPI schema, after the model's name (``ContractUpserted``).
    schema_name: str
    status_code: int = 200


CREATED = SyncAnswer("Bulk create completed successfully", ("created",), "BulkCreated", 201)
UPDATED = SyncAnswer("Bulk update completed successfully", ("updated",), "BulkUpdated")
UPSERTED = SyncAnswer("Upsert completed successfully", ("created", "updated"), "Upserted")
DELETED = SyncAnswer("Bulk delete completed successfully", ("deleted",), "BulkDeleted")


@dataclass(frozen=True)
class OperationKind:
    """One kind of bulk operation."""

    #: As a status and a record name it, and the verb of the 202 message.
    name: str
    rows: RowKey
    #: The viewset's hook that writes the items, called as ``hook(items, *hook_args)`` where
    #: ``hook_args`` name attributes of the payload. None for a get, which reads rows.
    hook: str | None = None
    hook_args: tuple[str, ...] = ()
    #: The synchronous answer; a get answers ``{count, results, is_sync}``.
    answer: SyncAnswer | None = None

    @property
    def reads(self) -> bool:
        """Whether it reads rows (a get) rather than writing them."""
        return self.hook is None

    @property
    def validates(self) -> bool:
        """Whether the items are objects, validated with the viewset's serializer."""
        return self.rows is not RowKey.IDS

    @property
    def status_code(self) -> int:
        """The status of its synchronous answer."""
        return self.answer.status_code if self.answer else 200

    @property
    def changes_rows(self) -> bool:
        """Whether items may change rows that exist (so that ``partial`` applies to them)."""
        return self.rows in (RowKey.PK, RowKey.UNIQUE_FIELDS)


GET = OperationKind("get", RowKey.IDS)
CREATE = OperationKind("create", RowKey.NONE, "perform_bulk_create", answer=CREATED)
UPDATE = OperationKind("update", RowKey.PK, "perform_bulk_update", ("partial",), UPDATED)
REPLACE = OperationKind("replace", RowKey.PK, "perform_bulk_update", ("partial",), UPDATED)
UPSERT = OperationKind(
    "upsert", RowKey.UNIQUE_FIELDS, "perform_bulk_upsert", ("unique_fields",), UPSERTED
)
DELETE = OperationKind("delete", RowKey.IDS, "perform_bulk_delete", answer=DELETED)

OPERATIONS: dict[str, OperationKind] = {
    kind.name: kind for kind in (GET, CREATE, UPDATE, REPLACE, UPSERT, DELETE)
}


class Route(StrEnum):
    """Where a bulk action is served."""

    #: The list URL (``/contracts/``): answered at once.
    LIST = "list"
    #: ``/contracts/bulk/``: answered ``202``, run by the Celery workers.
    BULK = "bulk"


@dataclass(frozen=True)
class BulkAction:
    """One handler of ``BulkOperationsMixin``."""

    handler: str
    #: The HTTP method, lower case as DRF's routers spell it.
    method: str
    route: Route
    #: The kinds it runs: the first; with ``?unique_fields=``, the one whose rows are named so.
    kinds: tuple[OperationKind, ...]
    #: Rows that exist change only in the fields each item carries (PATCH, POST's upsert).
    partial: bool = False
    #: The DRF action it enhances (``list``, ``create``): without an array or ``?ids=`` it is
    #: that action, and routers name it so.
    enhances: str | None = None
    summary: str = ""
    description: str = ""

    @property
    def background(self) -> bool:
        """Whether it answers ``202`` and leaves the work to the Celery workers."""
        return self.route is Route.BULK

    @property
    def route_name(self) -> str:
        """Its name in a router's method mapping (adrf maps ``list`` to ``alist`` itself)."""
        return self.enhances or self.handler

    def kind_for(self, unique_fields: Sequence[str]) -> OperationKind:
        """The kind a request runs: the upsert when it names ``?unique_fields=``."""
        if unique_fields:
            for kind in self.kinds:
                if kind.rows is RowKey.UNIQUE_FIELDS:
                    return kind
        return self.kinds[0]

    def is_partial(self, kind: OperationKind) -> bool:
        """Whether items of ``kind`` run by this action leave the fields they omit alone."""
        return self.partial and kind.changes_rows


ACTIONS: dict[str, BulkAction] = {
    action.handler: action
    for action in (
        BulkAction(
            "alist",
            "get",
            Route.LIST,
            (GET,),
            enhances="list",
            summary="List, or get the rows named by ?ids=",
            description="Without `ids`: the list (paged when the view paginates). With `ids`: "
            "`{count, results, is_sync}` with the rows that exist; absent ids are left out.",
        ),
        BulkAction(
            "acreate",
            "post",
            Route.LIST,
            (CREATE, UPSERT),
            partial=True,
            enhances="create",
            summary="Create one object, bulk create an array, or upsert with ?unique_fields=",
            description="An object body is DRF's standard create (201, the object). An array is "
            "a bulk create (201); with `unique_fields`, an upsert (200) that writes only the "
            "fields each item carries.",
        ),
        BulkAction(
            "bulk_update",
            "put",
            Route.LIST,
            (REPLACE, UPSERT),
            summary="Replace rows by id, or full upsert with ?unique_fields=",
            description="Each item carries its `id` and replaces every writable field; with "
            "`unique_fields`, a full upsert.",
        ),
        BulkAction(
            "bulk_partial_update",
            "patch",
            Route.LIST,
            (UPDATE, UPSERT),
            partial=True,
            summary="Partially update rows by id, or partial upsert with ?unique_fields=",
            description="Each item carries its `id` and the fields to change; omitted fields are "
            "never touched. With `unique_fields`, a partial upsert.",
        ),
        BulkAction(
            "bulk_destroy",
            "delete",
            Route.LIST,
            (DELETE,),
            summary="Delete the rows named by ?ids= or a body of ids",
            description="Deletes the rows named by `ids` or by a body of ids; no ids is a 400, "
            "never a wipe.",
        ),
        BulkAction(
            "background_bulk_list",
            "get",
            Route.BULK,
            (GET,),
            summary="Read the rows named by ?ids= in the background",
            description="Reads the rows named by `ids`; the status `result.results` holds them.",
        ),
        BulkAction(
            "background_bulk_create",
            "post",
            Route.BULK,
            (CREATE, UPSERT),
            partial=True,
            summary="Create (or upsert with ?unique_fields=) in the background",
            description="Creates the items, or upserts them with `unique_fields`.",
        ),
        BulkAction(
            "background_bulk_update",
            "put",
            Route.BULK,
            (REPLACE, UPSERT),
            summary="Replace by id (or full upsert) in the background",
            description="Replaces rows by `id`, or full upsert with `unique_fields`.",
        ),
        BulkAction(
            "background_bulk_partial_update",
            "patch",
            Route.BULK,
            (UPDATE, UPSERT),
            partial=True,
            summary="Partially update by id (or partial upsert) in the background",
            description="Partially updates rows by `id`, or partial upsert with `unique_fields`.",
        ),
        BulkAction(
            "background_bulk_destroy",
            "delete",
            Route.BULK,
            (DELETE,),
            summary="Delete the rows named by ?ids= or a body of ids in the background",
            description="Deletes the rows named by `ids` or by a body of ids.",
        ),
    )
}


#: The ``/bulk/`` handlers' names before they were called ``background_bulk_*`` (``async_`` read as
#: adrf's prefix, and every handler is async): a subclass overriding an old name still has its
#: override called, with a DeprecationWarning (``BackgroundOperationsMixin``).
DEPRECATED_HANDLERS = {
    f"async_bulk_{name}": f"background_bulk_{name}"
    for name in ("list", "create", "update", "partial_update", "destroy")
}


def handler_name(name: str) -> str:
    """The current name of a handler named ``name``, perhaps by its deprecated name (the record
    of an operation started before the rename)."""
    return DEPRECATED_HANDLERS.get(name, name)


def route_mapping(route: Route) -> dict[str, str]:
    """The method → action mapping of one route, as DRF's ``Route`` takes it."""
    return {
        action.method: action.route_name for action in ACTIONS.values() if action.route is route
    }
