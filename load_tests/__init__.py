"""Load tests of django-bulk-drf: one script per measurement, each starting what it needs.

Run one with ``python -m load_tests.<script>``; the shared plumbing is in ``harness``.
"""
