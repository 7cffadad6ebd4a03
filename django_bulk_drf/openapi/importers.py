"""The schema of what importers use: ``?dry_run=``, the ``unchanged`` counts and ids, and the
CSV / NDJSON exports of the list route."""

from __future__ import annotations

from typing import Any

from drf_spectacular.plumbing import build_array_type, build_media_type_object
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter

from ..actions import SyncAnswer
from ..exports import EXPORT_RENDERERS
from .components import Schema, basic, boolean, integer, setting_name

DRY_RUN_PARAMETER = OpenApiParameter(
    "dry_run",
    OpenApiTypes.BOOL,
    OpenApiParameter.QUERY,
    description="Run everything (parsing, validation, key lookups, the write itself) and roll "
    "the write back: the answer reports what the real run would do, by count and item index "
    "(`*_indices`; a background dry run lists would-be-created items by index under `created`), "
    "and nothing is written. A dry run takes no `Idempotency-Key`.",
)

EXPORT_MEDIA_TYPES = [renderer.media_type for renderer in EXPORT_RENDERERS]


def export_content(columns: list[str]) -> dict[str, Schema]:
    """The list route's export answers, by media type."""
    names = ", ".join(columns)
    return {
        "text/csv": build_media_type_object(
            {
                **basic(OpenApiTypes.STR),
                "description": "Every selected row, unpaginated and streamed: a header row "
                f"({names}), then one row per line as the list serializes it; a null is an "
                "empty cell. The /bulk/ endpoints take it back as it is.",
            }
        ),
        "application/x-ndjson": build_media_type_object(
            {
                **basic(OpenApiTypes.STR),
                "description": "Every selected row, unpaginated and streamed: one JSON object a "
                "line, as the list serializes it.",
            }
        ),
    }


def answer_extras(answer: SyncAnswer, pk: Schema) -> dict[str, Schema]:
    """The keys a synchronous write answer may carry after its own: rows left alone, and what a
    dry run reports."""
    extras: dict[str, Schema] = {}
    names = list(answer.id_lists)
    if "updated" in names:
        names.append("unchanged")
        extras["unchanged_count"] = {
            **integer(),
            "description": "Items equal to their stored row, left alone (not written). Present "
            f"when that applied ({setting_name('SKIP_UNCHANGED')}, `bulk_skip_unchanged`).",
        }
        extras["unchanged_ids"] = build_array_type(pk)
        extras["skip_unchanged"] = {
            **boolean(),
            "description": "Whether items equal to their stored row were left alone.",
        }
    extras["dry_run"] = {
        **boolean(),
        "description": "Present (true) on the answer of a dry run: nothing was written, and "
        "`created_ids` is empty (those rows do not exist; see `created_indices`).",
    }
    for name in names:
        extras[f"{name}_indices"] = {
            **build_array_type(integer()),
            "description": f"Dry run only: the indices of the items that would be {name}.",
        }
    return extras


def with_exports(responses: dict[str, Any], columns: list[str]) -> dict[str, Any]:
    """The list's answers with the export media types given their own schema."""
    listing = responses.get("200")
    if listing is not None and "content" in listing:
        for media_type, content in export_content(columns).items():
            listing["content"][media_type] = content
    return responses
