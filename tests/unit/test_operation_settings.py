"""``BULK_DRF_OPERATION_STORE`` and ``BULK_DRF_PROGRESS_EVENTS``: import strings, as DRF's."""

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from django_bulk_drf.operations import LocalOperationStore, get_operation_store
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
