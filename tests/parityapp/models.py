from django.db import models


class Widget(models.Model):
    """A row with a slug (the custom lookup), and an integer, a decimal and a JSON field (the big
    numbers)."""

    name = models.CharField(max_length=50)
    slug = models.SlugField(max_length=50, unique=True)
    count = models.IntegerField(default=0)
    amount = models.DecimalField(max_digits=45, decimal_places=2, default=0)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.slug
