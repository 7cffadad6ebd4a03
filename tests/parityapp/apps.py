from django.apps import AppConfig


class ParityAppConfig(AppConfig):
    name = "tests.parityapp"
    label = "parityapp"
    default_auto_field = "django.db.models.BigAutoField"
