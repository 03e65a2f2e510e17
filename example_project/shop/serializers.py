from __future__ import annotations

from decimal import Decimal

from rest_framework import serializers

from shop.models import Item


class ItemSerializer(serializers.ModelSerializer):
    owner = serializers.ReadOnlyField(source="owner.username")

    class Meta:
        model = Item
        fields = ["id", "sku", "name", "price", "quantity", "owner", "created_at"]

    def validate_price(self, value: Decimal) -> Decimal:
        if value <= 0:
            raise serializers.ValidationError("price must be positive")
        return value


class LoginSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=128, trim_whitespace=False)


class SignupSerializer(serializers.Serializer):
    username = serializers.RegexField(r"^[a-z0-9_]{3,30}$")
    email = serializers.EmailField()
    password = serializers.CharField(min_length=12, max_length=128, trim_whitespace=False)
