"""The baselines the bulk endpoints are measured against, served by the load-test server only.

- ``PlainContractViewSet``: a plain DRF ``ModelViewSet`` whose ``get_serializer`` passes
  ``many=True`` for arrays — what DRF users have today. It inserts one row per statement; its
  upsert variant calls ``update_or_create`` once per row.
- ``HandWrittenBulkView``: ``serializer = S(data=..., many=True); serializer.is_valid()`` then one
  ``bulk_create`` (with ``update_conflicts=True`` for the upsert variant) — the best a user writes
  by hand. Its serializer drops the unique-together validator (one query per row, and it refuses
  every row that exists): the database enforces the constraint instead.
- ``ping`` / ``AdrfPing``: trivial JSON endpoints, the baseline of the status-polling benchmark.

All of them parse JSON with DRF's ``JSONParser``, as a plain DRF project does.
"""

from __future__ import annotations

from typing import Any

from adrf.views import APIView as AsyncAPIView
from django.http import HttpRequest, JsonResponse
from rest_framework import serializers, status, viewsets
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from asgi_demo.contracts.models import Contract
from asgi_demo.contracts.serializers import ContractSerializer

CONFLICT_TARGET = ["contract_number", "year"]
UPDATED_FIELDS = ["amount", "customer", "status", "updated_at"]
BULK_CREATE_BATCH_SIZE = 1000


class PerRowUpsertListSerializer(serializers.ListSerializer):
    """``many=True`` saving with one ``update_or_create`` per item, keyed on the conflict target."""

    def create(self, validated_data: list[dict[str, Any]]) -> list[Contract]:
        return [
            Contract.objects.update_or_create(
                contract_number=item["contract_number"], year=item["year"], defaults=item
            )[0]
            for item in validated_data
        ]


class PerRowUpsertContractSerializer(ContractSerializer):
    """The demo serializer, saving each item with ``update_or_create``."""

    class Meta(ContractSerializer.Meta):
        validators: list[Any] = []
        list_serializer_class = PerRowUpsertListSerializer


class PlainContractViewSet(viewsets.ModelViewSet):
    """A plain DRF ``ModelViewSet``; an array body is saved with ``many=True``."""

    queryset = Contract.objects.all()
    serializer_class = ContractSerializer
    parser_classes = [JSONParser]

    def get_serializer(self, *args: Any, **kwargs: Any) -> serializers.BaseSerializer:
        if isinstance(kwargs.get("data"), list):
            kwargs["many"] = True
        return super().get_serializer(*args, **kwargs)


class PlainUpsertContractViewSet(PlainContractViewSet):
    """The same viewset saving each item with ``update_or_create``: DRF has no upsert."""

    serializer_class = PerRowUpsertContractSerializer


class HandWrittenContractSerializer(ContractSerializer):
    """The demo serializer without the per-row unique-together validator."""

    class Meta(ContractSerializer.Meta):
        validators: list[Any] = []


class HandWrittenBulkView(APIView):
    """``many=True`` validation, then one ``bulk_create`` (an upsert when ``upsert`` is set)."""

    parser_classes = [JSONParser]
    upsert = False

    def post(self, request: Request) -> Response:
        serializer = HandWrittenContractSerializer(data=request.data, many=True)
        serializer.is_valid(raise_exception=True)
        contracts = [Contract(**item) for item in serializer.validated_data]
        if self.upsert:
            Contract.objects.bulk_create(
                contracts,
                batch_size=BULK_CREATE_BATCH_SIZE,
                update_conflicts=True,
                unique_fields=CONFLICT_TARGET,
                update_fields=UPDATED_FIELDS,
            )
        else:
            Contract.objects.bulk_create(contracts, batch_size=BULK_CREATE_BATCH_SIZE)
        answer = {"total_items": len(contracts), "ids": [contract.pk for contract in contracts]}
        return Response(answer, status=status.HTTP_200_OK if self.upsert else 201)


async def ping(request: HttpRequest) -> JsonResponse:
    """A plain async Django view answering ``{"ok": true}``."""
    return JsonResponse({"ok": True})


class DrfPing(APIView):
    """``{"ok": true}`` from a plain DRF ``APIView``: what a request costs this server before any
    database work (the published package's peer server has the same view, without middleware)."""

    def get(self, request: Request) -> Response:
        return Response({"ok": True})


class AdrfPing(AsyncAPIView):
    """``{"ok": true}`` through the same adrf/DRF stack as the status endpoint."""

    permission_classes: list[Any] = []

    async def get(self, request: Request) -> Response:
        return Response({"ok": True})
