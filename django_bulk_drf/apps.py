from django.apps import AppConfig


class BulkDRFConfig(AppConfig):
    name = "django_bulk_drf"
    label = "django_bulk_drf"
    verbose_name = "Bulk operations for DRF"
    default_auto_field = "django.db.models.BigAutoField"
