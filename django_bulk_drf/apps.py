from django.apps import AppConfig


class BulkDRFConfig(AppConfig):
    """The chunk ledger's app; documents the bulk endpoints when drf-spectacular is installed."""

    name = "django_bulk_drf"
    label = "django_bulk_drf"
    verbose_name = "Bulk operations for DRF"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from .recovery import connect_worker_signals

        # Every worker records the tasks it holds and watches the others (recovery.py).
        connect_worker_signals()
        try:
            import drf_spectacular  # noqa: F401
        except ImportError:
            return
        # Registers the schema extensions that document the bulk endpoints.
        from . import openapi  # noqa: F401
