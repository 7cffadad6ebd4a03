"""Settings of the load-test server and worker: the demo's, plus the baseline views.

The bulk limits are raised so that one request can carry every payload size the benchmarks send.
``DEBUG`` is off, the demo's default, as in production (with it on, Django keeps every query in
memory); the server borrows its database connections from Django's pool, as the demo's does.
"""

import os

from asgi_demo.settings import *  # noqa: F403

ROOT_URLCONF = "load_tests.urls"

BULK_DRF_SYNC_UPSERT_MAX_ITEMS = 1_000_000
BULK_DRF_MAX_RECORDS = 1_000_000
# A 100,000-row synchronous upsert must not hit the 30 s default statement timeout.
BULK_DRF_SYNC_UPSERT_TIMEOUT = 600

# The baseline views read the body through DRF's JSONParser, which honours this cap.
DATA_UPLOAD_MAX_MEMORY_SIZE = None

# Items per background chunk: the package default unless BENCH_CHUNK_SIZE asks for another, so
# that a run can show what a larger chunk buys.
BULK_DRF_CHUNK_SIZE = int(os.environ.get("BENCH_CHUNK_SIZE", "100"))
