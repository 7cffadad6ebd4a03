"""Viewsets that let the background tests observe the workers from outside."""

import os
import time

from celery import current_task
from django.db import connections
from django_redis import get_redis_connection

from asgi_demo.contracts.models import Contract
from asgi_demo.contracts.serializers import ContractSerializer
from django_bulk_drf.recovery import SWEEP_SECONDS, WORKER_TTL, worker_life
from django_bulk_drf.viewsets import BulkModelViewSet

CHUNK_PIDS_KEY = "tests:chunk-pids"
CHUNK_LIVES_KEY = "tests:chunk-lives"


class PidTrackingContractViewSet(BulkModelViewSet):
    """Records which worker process wrote each chunk, and the worker life it releases its chunks
    under, and takes a moment doing it."""

    queryset = Contract.objects.all()
    serializer_class = ContractSerializer

    def perform_bulk_create(self, items):
        redis = get_redis_connection("default")
        redis.sadd(CHUNK_PIDS_KEY, os.getpid())
        redis.sadd(CHUNK_LIVES_KEY, worker_life(current_task.request.hostname))
        time.sleep(0.05)
        return super().perform_bulk_create(items)


class FailingChunkContractViewSet(BulkModelViewSet):
    """A chunk holding a customer named "boom" hits a real database error after its insert."""

    queryset = Contract.objects.all()
    serializer_class = ContractSerializer

    def perform_bulk_create(self, items):
        result = super().perform_bulk_create(items)
        if any(item.data.get("customer") == "boom" for item in items):
            with connections[self.get_queryset().db].cursor() as cursor:
                cursor.execute("SELECT 1 / 0")
        return result


class SlowStatementContractViewSet(BulkModelViewSet):
    """A chunk holding a customer named "slow" runs a statement that outlasts a worker's heartbeat
    expiry and a sweep of the other workers before it writes."""

    queryset = Contract.objects.all()
    serializer_class = ContractSerializer
    slow_seconds = WORKER_TTL + SWEEP_SECONDS + 2

    def perform_bulk_create(self, items):
        if any(item.data.get("customer") == "slow" for item in items):
            with connections[self.get_queryset().db].cursor() as cursor:
                cursor.execute("SELECT pg_sleep(%s)", [self.slow_seconds])
        return super().perform_bulk_create(items)
