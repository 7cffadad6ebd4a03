"""Test settings: the demo's, on PostgreSQL and Redis, with a SQLite alias for the embedded path."""

import os

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/14")

from asgi_demo.settings import *  # noqa: E402,F403
from asgi_demo.settings import DATABASES, INSTALLED_APPS  # noqa: E402

DATABASES["embedded"] = {
    "ENGINE": "django.db.backends.sqlite3",
    "NAME": ":memory:",
    "TEST": {"NAME": "file:bulkdrf_embedded?mode=memory&cache=shared"},
}
DATABASE_ROUTERS: list = []
INSTALLED_APPS = [*INSTALLED_APPS, "tests.testapp"]
ROOT_URLCONF = "tests.urls"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Parallel runs on one machine (several checkouts) each need their own test database.
if os.environ.get("BULK_TEST_DB_NAME"):
    DATABASES["default"]["TEST"] = {"NAME": os.environ["BULK_TEST_DB_NAME"]}
