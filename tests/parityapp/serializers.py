from adrf.serializers import ModelSerializer

from .models import Widget


class WidgetSerializer(ModelSerializer):
    """adrf's ModelSerializer (adrf's own viewset awaits ``asave``)."""

    class Meta:
        model = Widget
        fields = ["id", "name", "slug", "count", "amount", "data"]
