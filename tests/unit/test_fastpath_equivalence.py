"""The compiled validator gives exactly what DRF gives: the same validated data (same types, same
decimal exponents, same time zones) for the items it accepts, and DRF's own error body for the
others, on generated items of every field type it claims, full and partial. A second table
checks that the common inputs are accepted by the compiled path itself, not left to DRF."""

import datetime
import decimal
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework import serializers
from rest_framework.exceptions import ValidationError

from asgi_demo.contracts.models import Contract
from asgi_demo.contracts.serializers import ContractSerializer
from django_bulk_drf.fastpath import REFUSED, fast_validator_for


class EveryFieldSerializer(serializers.ModelSerializer):
    """The demo's model fields plus one declared field of each other kind the fast path claims."""

    email = serializers.EmailField(required=False, allow_null=True)
    slug = serializers.SlugField(required=False, allow_blank=True, max_length=8)
    raw_text = serializers.CharField(
        required=False, trim_whitespace=False, min_length=2, max_length=10
    )
    note = serializers.CharField(required=False, allow_null=True, allow_blank=True)
    tag = serializers.CharField(default="none", max_length=6)
    flag = serializers.BooleanField(required=False)
    maybe = serializers.BooleanField(required=False, allow_null=True)
    ratio = serializers.FloatField(required=False, min_value=-1e6, max_value=1e6)
    count = serializers.IntegerField(default=7, min_value=0, max_value=1000)
    big = serializers.IntegerField(required=False, allow_null=True)
    price = serializers.DecimalField(
        max_digits=6,
        decimal_places=3,
        required=False,
        allow_null=True,
        min_value=Decimal("-100"),
        rounding=decimal.ROUND_HALF_UP,
    )
    tiny = serializers.DecimalField(max_digits=2, decimal_places=2, required=False)
    whole = serializers.DecimalField(max_digits=5, decimal_places=0, required=False)
    kind = serializers.ChoiceField(choices=["a", "b", 1], required=False)
    day = serializers.DateField(required=False)
    moment = serializers.DateTimeField(required=False, allow_null=True)

    class Meta:
        model = Contract
        fields = [
            *ContractSerializer.Meta.fields,
            "email",
            "slug",
            "raw_text",
            "note",
            "tag",
            "flag",
            "maybe",
            "ratio",
            "count",
            "big",
            "price",
            "tiny",
            "whole",
            "kind",
            "day",
            "moment",
        ]
        validators: list = []


FIELD_NAMES = EveryFieldSerializer.Meta.fields
GOOD = {"contract_number": "C1", "year": 2024, "amount": "10.50", "customer": "Acme"}

WHITESPACE = [" ", "\t", "\n", "\u00a0", "\u2003", "\x1c", "\u200b", "\ufeff"]
EDGE_STRINGS = [
    "",
    " ",
    "x\x00y",
    "\ud800",
    "a\udfffb",
    "NaN",
    "nan",
    "-NaN",
    "sNaN",
    "Infinity",
    "-inf",
    "1e3",
    "1E+3",
    "1.5e-3",
    "0E+10",
    "0E-10",
    "-0",
    "-0.00",
    "0.000",
    "00012.5",
    "1_000",
    "+5",
    "٣",
    "²",
    "2024.0",
    "2024.00 ",
    " 42 ",
    "12345678901.00",
    "9999.999",
    "1.005",
    "1.500",
    "100.000",
    "-100.0001",
    "0.99",
    "99",
    "1" * 40,
    "-" + "9" * 40,
    "1" * 1001,
    "0" * 1000 + "1.5",
    "true",
    "True",
    "FALSE",
    "yes",
    "off",
    "1",
    "0",
    "null",
    "a",
    "b",
    "c",
    "ab@example.com",
    "not an email",
    "slug-ok",
    "no slug!",
    "2024-02-29",
    "2023-02-29",
    "2024-01-01T10:00:00Z",
    "2024-01-01T10:00:00+02:00",
    "2024-01-01 10:00",
    "2024-01-01T10:00:00.123456",
    "x" * 51,
    "y" * 101,
]

texts = st.one_of(
    st.sampled_from(EDGE_STRINGS),
    st.text(max_size=12),
    st.from_regex(r"-?[0-9]{1,15}(\.[0-9]{1,5})?([eE][-+]?[0-9]{1,3})?", fullmatch=True),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    st.tuples(st.sampled_from(WHITESPACE), st.text(max_size=6), st.sampled_from(WHITESPACE)).map(
        "".join
    ),
)
numbers = st.one_of(
    st.integers(min_value=-(2**33), max_value=2**33),
    st.integers(),
    st.sampled_from([0, 1, -1, 2**31 - 1, 2**31, -(2**31), -(2**31) - 1, 10**40, -(10**40)]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 1.0, 2024.0, 10.5, 1e20, 1e-7, 0.1 + 0.2]),
)
values = st.one_of(
    st.none(),
    st.booleans(),
    numbers,
    texts,
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=1),
)
raw_items = st.dictionaries(st.sampled_from([*FIELD_NAMES, "unknown"]), values)
# One or two values changed in a valid item: each value is then judged on its own.
near_valid_items = st.dictionaries(
    st.sampled_from(FIELD_NAMES), values, min_size=1, max_size=2
).map(lambda changes: GOOD | changes)
decimal_texts = st.one_of(
    st.from_regex(r"[-+]?[0-9]{0,8}(\.[0-9]{0,4})?([eE][-+]?[0-9])?", fullmatch=True),
    st.decimals(places=2, allow_nan=False, allow_infinity=False).map(str),
    st.decimals(min_value=-1000, max_value=1000, places=3).map(str),
)
# Values a field of each kind would plausibly receive, valid or nearly so.
PLAUSIBLE = {
    "text": st.one_of(
        texts, st.text(alphabet=st.characters(codec="utf-8"), max_size=110), st.integers()
    ),
    "integer": st.one_of(
        numbers, st.integers().map(str), st.integers(min_value=0, max_value=1200).map(str)
    ),
    "decimal": st.one_of(
        decimal_texts, decimal_texts.map(lambda text: f" {text} "), numbers, st.decimals().map(str)
    ),
    "boolean": st.one_of(
        st.booleans(), st.sampled_from(["t", "F", "on", "No", "1", "0", "", "null", 1, 0, 2])
    ),
    "float": st.one_of(numbers, st.floats().map(str), decimal_texts),
    "choice": st.one_of(st.sampled_from(["a", "b", "c", 1, "1", 2, " a", True]), texts),
    "date": st.one_of(st.dates().map(str), texts),
    "datetime": st.one_of(
        st.datetimes(timezones=st.none() | st.timezones()).map(lambda when: when.isoformat()),
        texts,
    ),
}
FIELD_KINDS = {
    "text": ["contract_number", "customer", "status", "email", "slug", "raw_text", "note", "tag"],
    "integer": ["year", "count", "big"],
    "decimal": ["amount", "price", "tiny", "whole"],
    "boolean": ["flag", "maybe"],
    "float": ["ratio"],
    "choice": ["kind"],
    "date": ["day"],
    "datetime": ["moment"],
}
plausible_items = st.one_of(
    *[
        st.fixed_dictionaries({name: PLAUSIBLE[kind]}).map(lambda change: GOOD | change)
        for kind, names in FIELD_KINDS.items()
        for name in names
    ]
)
items = st.one_of(raw_items, near_valid_items, plausible_items, plausible_items)
EQUIVALENCE = settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def typed(value: Any) -> Any:
    """A value with its exact type and representation (``Decimal('1.5') != Decimal('1.50')``)."""
    if isinstance(value, dict):
        return {key: typed(item) for key, item in value.items()}
    if isinstance(value, list):
        return [typed(item) for item in value]
    if isinstance(value, datetime.datetime):
        return (type(value), repr(value), repr(value.tzinfo))
    return (type(value), repr(value))


def outcome(validate, item: Any) -> tuple[str, Any]:
    try:
        return "ok", typed(dict(validate(item)))
    except ValidationError as exc:
        return "invalid", exc.detail


def serializer_pair(serializer_class: type, partial: bool) -> tuple[Any, Any]:
    reference = serializer_class(partial=partial)
    reference.validators = []  # as the bulk validator does: uniqueness is checked in batches
    compiled = serializer_class(partial=partial)
    compiled.validators = []
    fast = fast_validator_for(compiled)
    assert fast is not None
    return reference, fast


@pytest.mark.parametrize("partial", [False, True], ids=["full", "partial"])
@EQUIVALENCE
@given(item=items)
def test_every_claimed_field_type_gives_drfs_data_and_errors(item, partial):
    reference, fast = serializer_pair(EveryFieldSerializer, partial)

    assert outcome(fast, item) == outcome(reference.run_validation, item)


@pytest.mark.parametrize("partial", [False, True], ids=["full", "partial"])
@EQUIVALENCE
@given(item=st.one_of(raw_items, near_valid_items))
def test_the_demo_serializer_gives_drfs_data_and_errors(item, partial):
    reference, fast = serializer_pair(ContractSerializer, partial)

    assert outcome(fast, item) == outcome(reference.run_validation, item)


@pytest.mark.parametrize(
    "item",
    [
        GOOD,
        GOOD | {"status": "closed", "unknown": [1], "id": 5, "created_at": "whatever"},
        GOOD | {"contract_number": "  padded  ", "customer": "\tTabbed"},
        GOOD | {"contract_number": 12345, "customer": 1.5},
        GOOD | {"year": "2024"},
        GOOD | {"year": 2024.0},
        GOOD | {"amount": 10},
        GOOD | {"amount": 10.5},
        GOOD | {"amount": "1e3"},
        GOOD | {"amount": " 7.1 "},
        GOOD | {"amount": "0"},
        GOOD | {"amount": "-0.00"},
        GOOD | {"big": 10**40, "count": 0},
        GOOD | {"big": -(10**40)},
        GOOD | {"big": "1" * 40},
        GOOD | {"big": None, "note": None, "email": None, "maybe": None, "price": None},
        GOOD | {"note": "", "slug": ""},
        GOOD | {"email": "ab@example.com", "slug": "slug-ok", "raw_text": " keep "},
        GOOD | {"flag": True, "maybe": False},
        GOOD | {"flag": "true", "maybe": "off"},
        GOOD | {"ratio": 0.5},
        GOOD | {"ratio": 3},
        GOOD | {"price": "99.5", "tiny": "0.01", "whole": "12345"},
        GOOD | {"price": "-100"},
        GOOD | {"kind": "a"},
        GOOD | {"kind": 1},
        GOOD | {"day": "2024-02-29", "moment": "2024-01-01T10:00:00+02:00"},
    ],
    ids=lambda item: ",".join(f"{key}={value!r}"[:40] for key, value in item.items()),
)
def test_common_inputs_are_accepted_by_the_compiled_path(item):
    reference, fast = serializer_pair(EveryFieldSerializer, partial=False)

    assert fast.fast(item) is not REFUSED
    assert outcome(fast, item) == outcome(reference.run_validation, item)


def test_big_integers_stay_exact():
    _, fast = serializer_pair(EveryFieldSerializer, partial=False)
    big = 12345678901234567890123456789012345678901

    assert fast(GOOD | {"big": big})["big"] == big
    assert fast(GOOD | {"big": str(big)})["big"] == big


def test_omitted_fields_take_defaults_only_when_not_partial():
    _, full = serializer_pair(EveryFieldSerializer, partial=False)
    _, partial = serializer_pair(EveryFieldSerializer, partial=True)

    assert full(GOOD)["count"] == 7
    assert full(GOOD)["tag"] == "none"
    assert "count" not in partial({"year": 2024})
    assert partial({"year": 2024}) == {"year": 2024}


@pytest.mark.parametrize(
    "serializer",
    [
        type("WithFieldHook", (ContractSerializer,), {"validate_amount": lambda self, v: v}),
        type("WithValidate", (ContractSerializer,), {"validate": lambda self, attrs: attrs}),
        type("WithNested", (serializers.Serializer,), {"inner": ContractSerializer()}),
    ],
    ids=["validate_field", "validate", "nested"],
)
def test_serializers_with_hooks_are_left_to_drf(serializer):
    assert fast_validator_for(serializer()) is None
