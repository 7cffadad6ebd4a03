"""Viewsets that let the background tests observe the workers from outside."""

import os
import signal
import time

from celery import current_task
from django.db import connections, transaction
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


KILL_AFTER_COMMIT_KEY = "tests:kill-after-commit"
COMMITTED_BEFORE_KILL_KEY = "tests:committed-before-kill"


class KillAfterCommitContractViewSet(BulkModelViewSet):
    """The worker process that commits a batch while ``KILL_AFTER_COMMIT_KEY`` is set kills
    itself (SIGKILL) right after the commit, before the batch is reported; the key is taken, so
    only one process dies. The rows that batch wrote are kept at ``COMMITTED_BEFORE_KILL_KEY``."""

    queryset = Contract.objects.all()
    serializer_class = ContractSerializer

    def perform_bulk_create(self, items):
        result = super().perform_bulk_create(items)
        numbers = [item.data["contract_number"] for item in items]
        transaction.on_commit(lambda: self.die_once(numbers), using=self.get_queryset().db)
        return result

    @staticmethod
    def die_once(numbers):
        redis = get_redis_connection("default")
        if redis.getdel(KILL_AFTER_COMMIT_KEY) is None:
            return
        redis.rpush(COMMITTED_BEFORE_KILL_KEY, *numbers)
        os.kill(os.getpid(), signal.SIGKILL)
