from django.conf import settings
from django.db import models


class Owned(models.Model):
    """A row that belongs to a user: the viewset shows each user their own rows only."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    sku = models.CharField(max_length=30, unique=True)
    quantity = models.IntegerField(default=0)
    note = models.CharField(max_length=100, blank=True, default="")

    def __str__(self) -> str:
        return self.sku


class Author(models.Model):
    name = models.CharField(max_length=100)

    def __str__(self) -> str:
        return self.name


class Book(models.Model):
    """A row with a foreign key, a field-level unique and a required field."""

    title = models.CharField(max_length=100)
    isbn = models.CharField(max_length=20, unique=True)
    author = models.ForeignKey(Author, on_delete=models.CASCADE)
    pages = models.IntegerField(default=100)

    def __str__(self) -> str:
        return self.title
