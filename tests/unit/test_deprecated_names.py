"""Names users may have imported or overridden keep working, with a DeprecationWarning."""

import importlib

import pytest

from django_bulk_drf import uniqueness, validation


@pytest.mark.parametrize(
    ("name", "module"),
    [
        ("BulkItemsValidator", validation),
        ("ValidatedItem", validation),
        ("ValidationOutcome", validation),
        ("NON_FIELD_ERRORS", uniqueness),
        ("allowed_conflict_targets", uniqueness),
    ],
)
def test_serializers_module_resolves_moved_names_with_a_warning(name, module):
    serializers = importlib.import_module("django_bulk_drf.serializers")
    with pytest.warns(DeprecationWarning, match=f"import it from {module.__name__}"):
        moved = getattr(serializers, name)
    assert moved is getattr(module, name)


def test_serializers_module_warns_where_the_user_imports():
    with pytest.warns(DeprecationWarning) as caught:
        from django_bulk_drf.serializers import BulkItemsValidator  # noqa: F401
    assert caught[0].filename == __file__


def test_serializers_module_refuses_unknown_names():
    serializers = importlib.import_module("django_bulk_drf.serializers")
    with pytest.raises(AttributeError):
        serializers.ListBulkSerializer  # noqa: B018
