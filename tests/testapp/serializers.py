from rest_framework import serializers

from .models import Book, Owned


class OwnedSerializer(serializers.ModelSerializer):
    class Meta:
        model = Owned
        fields = ["id", "sku", "quantity", "note"]

    def validate_quantity(self, value):
        if value < 0:
            raise serializers.ValidationError("Quantity cannot be negative.")
        return value


class BookSerializer(serializers.ModelSerializer):
    class Meta:
        model = Book
        fields = ["id", "title", "isbn", "author", "pages"]

    def validate(self, attrs):
        if attrs.get("title") == "forbidden":
            raise serializers.ValidationError("This title is not allowed.")
        return attrs
