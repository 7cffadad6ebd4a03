"""Validation alone: items per second of the demo's serializer through DRF and through the
compiled path, in one process, no database, no HTTP.

Run: ``python -m load_tests.validation [--items 20000] [--runs 5]`` (``bench_writes`` runs it
too). Both validate the same valid contracts (the payloads of the other benchmarks) one item
at a time, as the bulk validator does: DRF as ``serializer.run_validation(item)`` with the
serializer's unique-together validator removed (the bulk path checks it once per batch), ours
as ``fast_validator_for(serializer)(item)``. Medians of ``--runs``; the answers of both are
checked equal first. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable
from typing import Any

from .harness import contract_rows, load_average, median, write_results


def rates(count: int, runs: int) -> dict[str, float]:
    """Items per second, medians of ``runs``: ``drf`` and ``compiled``."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "load_tests.settings")
    import django

    django.setup()
    from asgi_demo.contracts.serializers import ContractSerializer
    from django_bulk_drf.fastpath import fast_validator_for

    items = contract_rows(count, revision=1)
    serializer, child = ContractSerializer(), ContractSerializer()
    serializer.validators = child.validators = []
    compiled = fast_validator_for(child)
    if compiled is None:
        raise SystemExit("the demo's serializer is not compiled")
    if [serializer.run_validation(item) for item in items[:1000]] != [
        compiled(item) for item in items[:1000]
    ]:
        raise SystemExit("the compiled path and DRF disagree")
    return {
        "drf": median([rate(serializer.run_validation, items) for _ in range(runs)]),
        "compiled": median([rate(compiled, items) for _ in range(runs)]),
    }


def rate(validate: Callable[[Any], Any], items: list[dict[str, Any]]) -> float:
    started = time.perf_counter()
    for item in items:
        validate(item)
    return len(items) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m load_tests.validation", description=__doc__)
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--no-results", action="store_true", help="print only (bench_writes runs it this way)"
    )
    options = parser.parse_args()
    load = load_average()
    figures = rates(options.items, options.runs)
    print(f"DRF run_validation: {figures['drf']:,.0f} items/s")
    print(f"compiled path:      {figures['compiled']:,.0f} items/s")
    print(f"ratio:              {figures['compiled'] / figures['drf']:.1f}×")
    print(f"one-minute load average {load:.2f} at the start")
    if not options.no_results:
        rounded = {f"{name}_items_per_second": round(rate) for name, rate in figures.items()}
        write_results("validation", rounded, load)
    print(json.dumps(figures | {"load_average": load}))


if __name__ == "__main__":
    main()
