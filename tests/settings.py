"""Test settings: the demo's, on PostgreSQL and Redis, with a SQLite alias for the embedded path."""

import os

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/14")

from asgi_demo.settings import *  # noqa: E402,F403
from asgi_demo.settings import DATABASES, INSTALLED_APPS, REST_FRAMEWORK  # noqa: E402

DATABASES["embedded"] = {
    "ENGINE": "django.db.backends.sqlite3",
    "NAME": ":memory:",
    # No dependency on "default": the unit tests set up this database alone.
    "TEST": {"NAME": "file:bulkdrf_embedded?mode=memory&cache=shared", "DEPENDENCIES": []},
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
