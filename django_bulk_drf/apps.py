from django.apps import AppConfig


class BulkDRFConfig(AppConfig):
    """The chunk ledger's app; documents the bulk endpoints when drf-spectacular is installed."""

    name = "django_bulk_drf"
    label = "django_bulk_drf"
    verbose_name = "Bulk operations for DRF"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        try:
            import drf_spectacular  # noqa: F401
        except ImportError:
            return
        # Registers the schema extensions that document the bulk endpoints.
        from . import openapi  # noqa: F401
