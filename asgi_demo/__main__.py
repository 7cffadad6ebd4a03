"""``python -m asgi_demo <command>``: Django's manage.py, plus ``serve`` and ``worker``.

- ``serve [--host H] [--port P]``: migrate, then serve the ASGI application with uvicorn;
- ``worker [celery worker options]``: a Celery worker for the background operations.
"""

import argparse
import os
import sys


def serve(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m asgi_demo serve")
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument("--no-migrate", action="store_true")
    options = parser.parse_args(argv)

    import django
    from django.core.management import call_command
    from django.db import connections

    django.setup()
    from django.conf import settings

    from asgi_demo.modes import describe_mode

    if not options.no_migrate:
        call_command("migrate", interactive=False, verbosity=0)
        # Hand the migration's connection back (to the pool, when there is one).
        connections.close_all()
    if settings.IN_PROCESS_WORKER:
        if options.workers != 1:
            parser.error("without REDIS_URL the worker runs inside the server: use --workers 1")
        from asgi_demo.celery import app
        from django_bulk_drf.embedded import start_in_process_worker

        start_in_process_worker(app)
    print(describe_mode(), f"Serving on http://{options.host}:{options.port}/", flush=True)
    import uvicorn

    uvicorn.run(
        "asgi_demo.asgi:application",
        host=options.host,
        port=options.port,
        workers=options.workers,
        log_level=os.environ.get("LOG_LEVEL", "info"),
        lifespan="off",
        # Progress messages are small JSON: compressing each for each client costs more CPU than
        # it saves bandwidth when a thousand sockets follow one operation.
        ws_per_message_deflate=False,
    )


def worker(argv: list[str]) -> None:
    # A worker runs many short tasks, one at a time per process: it keeps its database connection
    # between them (persistent connections; the settings then leave the pool out).
    os.environ.setdefault("CONN_MAX_AGE", "60")
    import django

    django.setup()
    from asgi_demo.celery import app

    app.worker_main(["worker", *argv])


def main(argv: list[str]) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "asgi_demo.settings")
    command = argv[0] if argv else "help"
    if command == "serve":
        serve(argv[1:])
    elif command == "worker":
        worker(argv[1:])
    else:
        from django.core.management import execute_from_command_line

        execute_from_command_line(["python -m asgi_demo", *argv])


if __name__ == "__main__":
    main(sys.argv[1:])
