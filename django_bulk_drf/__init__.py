"""Bulk operations for Django REST Framework: synchronous, on Celery, with live progress."""

__version__ = "0.1.0"
