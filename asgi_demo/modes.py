"""Which services the demo runs on, and the line it prints about them at start-up."""

from django.conf import settings


def describe_mode() -> str:
    database = settings.DATABASES["default"]
    if database["ENGINE"].endswith("sqlite3"):
        where_db = f"SQLite at {database['NAME']}"
    else:
        address = f"{database.get('HOST')}:{database.get('PORT')}"
        pool = database.get("OPTIONS", {}).get("pool")
        held = f"a pool of up to {pool['max_size']} connections" if pool else "no pool"
        where_db = f"PostgreSQL {database.get('NAME')} at {address} ({held})"
    if settings.EMBEDDED:
        return (
            f"django-bulk-drf demo, embedded mode: {where_db}; Celery worker inside this process "
            "(in-memory broker); operation records and progress events in process."
        )
    if settings.IN_PROCESS_WORKER:
        where_tasks = "Celery worker inside this process (in-memory broker)"
    else:
        where_tasks = (
            f"Celery broker {settings.CELERY_BROKER_URL}; "
            "start workers with 'python -m asgi_demo worker'"
        )
    store = "Redis " + settings.REDIS_URL if settings.REDIS_URL else "in process"
    return f"django-bulk-drf demo: {where_db}; {where_tasks}; operation records in {store}."
