"""Test settings: the demo's, on PostgreSQL and Redis, with a SQLite alias for the embedded path."""

import os

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/14")


def xdist_redis_url(base_url: str, worker: str) -> str:
    """The Redis database of pytest-xdist worker ``worker`` (``gw0``, ``gw1``, ...): the database
    of ``base_url`` plus the worker's number, so ``redis://host/14`` gives gw0 the database 14 and
    gw1 the database 15. Its cache, its Celery broker and queues (kombu prefixes its fanout
    channels with the database) and its operation records are the worker's alone."""
    base, _, database = base_url.rstrip("/").rpartition("/")
    number = int(database or 0) + int(worker.removeprefix("gw"))
    if number > 15:
        raise RuntimeError(
            f"pytest-xdist worker {worker} would use Redis database {number} from REDIS_URL="
            f"{base_url}: Redis has 16 (0-15); choose a lower database or fewer workers."
        )
    return f"{base}/{number}"


# Under pytest-xdist each worker process gets a Redis database of its own; pytest-django already
# gives it a test database of its own (the name ends with "_gw0", "_gw1", ...). The processes the
# fixtures start get both through their environment (tests.fixtures.services.service_env).
if worker := os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ["REDIS_URL"] = xdist_redis_url(os.environ["REDIS_URL"], worker)

from asgi_demo.settings import *  # noqa: E402,F403
from asgi_demo.settings import DATABASES, INSTALLED_APPS, REST_FRAMEWORK  # noqa: E402

DATABASES["embedded"] = {
    "ENGINE": "django.db.backends.sqlite3",
    "NAME": ":memory:",
    # No dependency on "default": the unit tests set up this database alone. Its test database is
    # Django's shared in-memory one, each process its own (pytest-xdist adds no suffix to it).
    "TEST": {"DEPENDENCIES": []},
}
DATABASE_ROUTERS: list = []
INSTALLED_APPS = [*INSTALLED_APPS, "tests.testapp", "tests.parityapp"]
# DRF's parsers plus one of the project's own: the bulk viewsets must keep using them.
REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    "DEFAULT_PARSER_CLASSES": [
        "rest_framework.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
        "tests.parityapp.parsers.KeyValueParser",
    ],
}
ROOT_URLCONF = "tests.urls"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Django's PostgreSQL backend with a cheaper flush between transactional tests (tests/postgresql).
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"]["ENGINE"] = "tests.postgresql"

# Parallel runs on one machine (several checkouts) each need their own test database.
if os.environ.get("BULK_TEST_DB_NAME"):
    DATABASES["default"]["TEST"] = {"NAME": os.environ["BULK_TEST_DB_NAME"]}

# The fault tests' servers and workers get their BULK_DRF_* settings from the environment, through
# the demo's settings; the test that keeps the database away past the retry window gives its worker
# fewer retries. Lost workers are taken up with the demo's own broker settings.
if os.environ.get("BULK_TEST_MAX_RETRIES"):
    CELERY_TASK_ANNOTATIONS = {
        name: {"max_retries": int(os.environ["BULK_TEST_MAX_RETRIES"])}
        for name in ("django_bulk_drf.run_operation", "django_bulk_drf.process_chunk")
    }
