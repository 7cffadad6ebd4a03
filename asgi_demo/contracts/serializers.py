from rest_framework import serializers

from .models import Contract


class ContractSerializer(serializers.ModelSerializer):
    """A plain ModelSerializer: the bulk endpoints validate with it as it is."""

    class Meta:
        model = Contract
        fields = [
            "id",
            "contract_number",
            "year",
            "amount",
            "customer",
            "status",
            "created_at",
            "updated_at",
        ]
