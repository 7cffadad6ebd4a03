from celery.signals import task_received, worker_ready
from django.apps import AppConfig


class BulkDRFConfig(AppConfig):
    """The chunk ledger's app; documents the bulk endpoints when drf-spectacular is installed."""

    name = "django_bulk_drf"
    label = "django_bulk_drf"
    verbose_name = "Bulk operations for DRF"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        connect_worker_signals()
        try:
            import drf_spectacular  # noqa: F401
        except ImportError:
            return
        # Registers the schema extensions that document the bulk endpoints.
        from . import openapi  # noqa: F401


def connect_worker_signals() -> None:
    """A worker records the tasks it receives and watches the other workers (``recovery.py``)."""
    from . import recovery

    task_received.connect(recovery.hold_received_task, dispatch_uid="django_bulk_drf.hold")
    worker_ready.connect(recovery.watch_when_ready, dispatch_uid="django_bulk_drf.watch")
