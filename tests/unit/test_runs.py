"""How an operation's chunks are cut into runs (one task each), and how the orphans of a dead
worker are put back together into runs."""

import pytest

from django_bulk_drf.background import FEWEST_RUNS, RUN_ITEMS, runs
from django_bulk_drf.operations.leases import MISSING, PLANNING, Orphan, holder
from django_bulk_drf.recovery import LONGEST_REQUEUED_RUN, orphan_runs
from tests.fixtures.records import operation_record


def covered(cut: list[tuple[int, int]]) -> list[int]:
    return [index for first, count in cut for index in range(first, first + count)]


@pytest.mark.parametrize(
    ("chunks", "chunk_size", "longest"),
    [(1, 100, 1), (15, 100, 1), (100, 100, 6), (2_000, 100, RUN_ITEMS // 100), (40, 5_000, 1)],
)
def test_every_chunk_is_in_one_run_and_runs_stay_short(chunks, chunk_size, longest):
    cut = runs(operation_record(chunks=chunks, chunk_size=chunk_size))

    assert covered(cut) == list(range(chunks))
    assert max(count for _, count in cut) == longest
    assert len(cut) >= min(chunks, FEWEST_RUNS)


def test_orphans_come_back_as_runs_of_consecutive_chunks_of_one_holder():
    dead, other = holder("dead@host", "t1", 0), holder("dead@host", "t2", 0)
    orphans = [
        Orphan("op", 4, dead),
        Orphan("op", 3, dead),
        Orphan("op", 7, dead),
        Orphan("op", 5, other),
        Orphan("op", PLANNING, MISSING),
        *(Orphan("other", index, MISSING) for index in range(LONGEST_REQUEUED_RUN + 1)),
    ]

    requeued = {
        (orphan.operation_id, orphan.index, count) for orphan, count in orphan_runs(orphans)
    }

    assert requeued == {
        ("op", 3, 2),
        ("op", 7, 1),
        ("op", 5, 1),
        ("op", PLANNING, 1),
        ("other", 0, LONGEST_REQUEUED_RUN),
        ("other", LONGEST_REQUEUED_RUN, 1),
    }
