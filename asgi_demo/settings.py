"""Settings of the demo project, configured from the environment.

``DATABASE_URL`` (PostgreSQL or SQLite) and ``REDIS_URL`` select the services. With neither set the
demo runs embedded on one machine: SQLite, the Celery worker inside the serving process and
in-process pub/sub. With services it is deployment-grade by default: the ASGI server borrows its
PostgreSQL connections from a pool, workers keep theirs, list endpoints are paginated, and
``DEBUG`` is off unless ``DJANGO_DEBUG=1`` (it is off in embedded mode too). Every ``BULK_DRF_*``
setting can be set as an environment variable of the same name (see ``asgi_demo.environment``).
"""

import os
from pathlib import Path

import dj_database_url

import django_bulk_drf
from asgi_demo.environment import bulk_settings_from_env, env_flag

BASE_DIR = Path(__file__).resolve().parent

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "django-bulk-drf-demo-not-secret")
DEBUG = env_flag(os.environ, "DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = os.environ.get(
    "DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver"
).split(",")

DATABASE_URL = os.environ.get("DATABASE_URL", "")
REDIS_URL = os.environ.get("REDIS_URL", "")
EMBEDDED = not DATABASE_URL and not REDIS_URL
SQLITE_PATH = os.environ.get("DEMO_SQLITE_PATH", str(Path.cwd() / "asgi_demo.sqlite3"))

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "channels",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_bulk_drf",
    "asgi_demo.contracts",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]

ROOT_URLCONF = "asgi_demo.urls"
ASGI_APPLICATION = "asgi_demo.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
            ]
        },
    }
]

# How this process holds its database connections. The ASGI server runs each request's database
# work on a thread of its own, so it borrows connections from a pool (Django's OPTIONS["pool"],
# psycopg_pool; PostgreSQL only; DATABASE_POOL_MAX_SIZE=0 turns it off). A Celery worker runs one
# task at a time per process and keeps its connection between tasks instead: `python -m asgi_demo
# worker` sets CONN_MAX_AGE, which Django does not combine with a pool.
conn_max_age = int(os.environ.get("CONN_MAX_AGE", "0"))
pool_max_size = int(os.environ.get("DATABASE_POOL_MAX_SIZE", "20"))
DATABASES = {
    "default": dj_database_url.parse(
        DATABASE_URL or f"sqlite:///{SQLITE_PATH}",
        conn_max_age=conn_max_age,
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # One writer at a time: take the write lock when the transaction starts, not half-way.
    DATABASES["default"]["OPTIONS"] = {"transaction_mode": "IMMEDIATE", "timeout": 20}
elif not conn_max_age and pool_max_size:
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 2,
        "max_size": pool_max_size,
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
TIME_ZONE = "UTC"
STATIC_URL = "static/"

if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {
                "CLIENT_CLASS": "django_redis.client.DefaultClient",
                # Each ASGI request runs its sync parts in a thread of its own: under load more
                # requests than the pool holds ask at once. A blocking pool makes them wait for
                # a connection instead of failing.
                "CONNECTION_POOL_CLASS": "redis.BlockingConnectionPool",
                "CONNECTION_POOL_KWARGS": {"max_connections": 50, "timeout": 20},
            },
        }
    }
    CELERY_BROKER_URL = REDIS_URL
else:
    # No Redis: the worker must run inside the serving process (see IN_PROCESS_WORKER).
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CELERY_BROKER_URL = "memory://"
    # The in-memory transport polls its queues; the default second per poll is a second per chunk.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"polling_interval": 0.01}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "DEFAULT_PAGINATION_CLASS": "asgi_demo.pagination.NewestFirstCursorPagination",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "django-bulk-drf demo API",
    "VERSION": django_bulk_drf.__version__,
    "SERVE_INCLUDE_SCHEMA": False,
    "DESCRIPTION": "Contracts with bulk create, update, upsert and delete: arrays answered at "
    "once, /bulk/ endpoints answered 202 and processed by Celery, progress at /api/operations/.",
    # Swagger UI from the drf-spectacular-sidecar package: /api/docs/ works offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
}

# Without Redis there is no broker another process could read: run the worker in this one.
IN_PROCESS_WORKER = not REDIS_URL

CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"django_bulk_drf": {"handlers": ["console"], "level": "INFO"}},
}

# BULK_DRF_* from the environment, typed like the package defaults (BULK_DRF_MAX_RECORDS=1000000).
globals().update(bulk_settings_from_env(os.environ))

# Django's ASGI handler receives a request body into a temporary file that stays in memory up to
# this size: a /bulk/ body is read from it a part at a time, so keep only a little of it in memory
# (Django's default, 2.5 MB, is held once per concurrent upload).
FILE_UPLOAD_MAX_MEMORY_SIZE = 256 * 1024
