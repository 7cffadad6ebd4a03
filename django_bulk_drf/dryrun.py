"""Dry runs (``?dry_run=true``): the whole write, rolled back, reported item by item.

A dry run parses, validates and looks keys up as the real run does, then runs the very write the
real run would (the viewset's ``perform_bulk_*`` hook) inside a savepoint that is rolled back at
once: what it reports is what the database said, not a prediction, and nothing stays written. A
database that refuses the write refuses the dry run the same way.

What it reports per item: its index under ``created``, ``updated``, ``unchanged`` (or ``deleted``
for the ids of a delete). Rows that would be created have no id yet (the one the rolled-back
insert drew is not theirs), so a dry run's created list holds item indices instead of ids. The
sequence a rolled-back insert drew from is not rolled back (PostgreSQL never does): a dry run of
a create leaves a gap in later ids, and nothing else.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from django.db import transaction

from .validated import ValidatedItem
from .writers import WriteResult


def rehearse(
    db: str,
    write: Callable[[], WriteResult],
    items: Sequence[Any],
    index_map: Sequence[int] | None = None,
) -> tuple[WriteResult, dict[str, list[int]]]:
    """Run ``write`` in a savepoint of ``db`` and roll it back; returns what it did, with the
    created ids replaced by item indices, and the item indices under each outcome.
    ``index_map`` turns an item's position in ``items`` into its index in the operation."""
    with transaction.atomic(using=db):
        written = write()
        transaction.set_rollback(True, using=db)
    indices = item_outcomes(written, items)
    if index_map is not None:
        indices = {name: [index_map[at] for at in found] for name, found in indices.items()}
    written.created_ids = indices.get("created", [])
    return written, indices


def item_outcomes(written: WriteResult, items: Sequence[Any]) -> dict[str, list[int]]:
    """The payload indices of ``items`` (validated items, or the ids of a delete, whose index is
    their position) by what the write did to them."""
    if not items or not isinstance(items[0], ValidatedItem):
        deleted = set(written.deleted_ids)
        return {"deleted": [at for at, pk in enumerate(items) if pk in deleted]}
    updated, unchanged = set(written.updated_ids), set(written.unchanged_ids)
    indices: dict[str, list[int]] = {"created": [], "updated": [], "unchanged": []}
    for item in items:
        pk = item.stored.pk if item.stored is not None else None
        if pk is not None and pk in unchanged:
            indices["unchanged"].append(item.index)
        elif pk is not None and pk in updated:
            indices["updated"].append(item.index)
        else:
            indices["created"].append(item.index)
    return indices
