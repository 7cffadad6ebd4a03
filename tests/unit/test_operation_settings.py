"""``BULK_DRF_OPERATION_STORE`` and ``BULK_DRF_PROGRESS_EVENTS``: import strings, as DRF's."""

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings
from django.utils.module_loading import import_string

from django_bulk_drf.operations import (
    LocalOperationStore,
    ProgressEvents,
    RedisOperationStore,
    get_operation_store,
)
from django_bulk_drf.operations.local_events import LocalOperationEvents
from django_bulk_drf.progress import operation_events


class OwnStore(LocalOperationStore):
    """A store of one's own (here the local one under another name)."""


class QuietEvents(LocalOperationEvents):
    """A hub of one's own."""


@override_settings(BULK_DRF_OPERATION_STORE="tests.unit.test_operation_settings.OwnStore")
async def test_the_store_setting_names_the_store_and_its_hub_follows():
    store = get_operation_store()

    assert type(store) is OwnStore
    assert get_operation_store() is store  # one per process
    assert type(operation_events()) is LocalOperationEvents


@override_settings(
    BULK_DRF_OPERATION_STORE="django_bulk_drf.operations.local.LocalOperationStore",
    BULK_DRF_PROGRESS_EVENTS="tests.unit.test_operation_settings.QuietEvents",
)
async def test_the_progress_events_setting_names_the_hub():
    hub = operation_events()
    assert type(hub) is QuietEvents
    assert operation_events() is hub  # one per event loop


def test_a_setting_that_cannot_be_imported_says_so():
    with override_settings(BULK_DRF_OPERATION_STORE="nowhere.Store"):
        with pytest.raises(ImproperlyConfigured, match="BULK_DRF_OPERATION_STORE = 'nowhere"):
            get_operation_store()


@override_settings(
    BULK_DRF_OPERATION_STORE="django_bulk_drf.operations.local.LocalOperationStore",
    BULK_DRF_PROGRESS_EVENTS="django_bulk_drf.progress.LocalOperationEvents",
)
async def test_a_hub_named_where_it_used_to_live_is_found_with_a_warning():
    with pytest.warns(DeprecationWarning, match="operations.local_events.LocalOperationEvents"):
        hub = operation_events()
    assert type(hub) is LocalOperationEvents


def test_the_stores_declare_their_parts():
    """A store of one process has no leases; each built-in store names a hub beside it."""
    assert LocalOperationStore().leases is None
    assert import_string(LocalOperationStore.progress_events) is LocalOperationEvents
    hub_class = import_string(RedisOperationStore.progress_events)
    assert hub_class.__module__ == "django_bulk_drf.operations.redis_events"
    assert issubclass(hub_class, ProgressEvents)
    assert issubclass(LocalOperationEvents, ProgressEvents)
    with pytest.raises(ImportError):
        import_string("django_bulk_drf.progress.NoSuchHub")
