"""The demo's Celery application: broker from ``REDIS_URL`` (in memory when embedded)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "asgi_demo.settings")

app = Celery("asgi_demo")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
