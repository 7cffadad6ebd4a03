from django.db import models


class Contract(models.Model):
    """A customer contract, unique by number and year: the demo's bulk-imported model."""

    contract_number = models.CharField(max_length=50)
    year = models.IntegerField()
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    customer = models.CharField(max_length=100)
    status = models.CharField(max_length=20, default="active")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["contract_number", "year"], name="contract_number_year_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.contract_number}/{self.year}"
