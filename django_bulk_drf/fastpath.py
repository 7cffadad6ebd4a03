"""A serializer's plain fields compiled into one msgspec type: validation an order of magnitude
faster than DRF's, with DRF's exact results.

``fast_validator_for(child)`` turns the writable fields of a ``ModelSerializer`` into a msgspec
``Struct``: ``msgspec.convert`` checks in C that each field is present (or may be omitted), of
a JSON type the field takes, and within the limits msgspec can state (a string's length before
trimming, an integer's bounds). A few lines of Python per field then finish DRF's conversion for
the common case (trimming, the null-character checks, a decimal's precision and quantizing) or,
for the other types a field takes (a number for a ``CharField``, a digit string for an
``IntegerField``), call the field's own ``to_internal_value`` and its validators.

Anything the compiled validator does not accept as it is goes to DRF per item: an item msgspec
refuses, a value a check refuses, a blank, a null where none is allowed, an omitted required field.
DRF then validates the whole item again, so every error body, every default and every
``required`` answer is DRF's own; the fast path only ever returns what DRF would have returned.

Compiled (and covered by ``tests/unit/test_fastpath_equivalence.py``): ``CharField`` and its
subclasses that convert like it (``EmailField``, ``URLField``, ``SlugField``, ``RegexField``; their
validators run as they are), ``IntegerField``, ``DecimalField``, ``FloatField``, ``BooleanField``;
any other field whose ``run_validation``, ``validate_empty_values`` and ``get_value`` are DRF's
own (``ChoiceField``, ``DateField``, ``DateTimeField``, ``PrimaryKeyRelatedField``, …) is converted
by its own ``to_internal_value``. Serializers with ``validate()`` or ``validate_<field>`` hooks,
serializer-level validators, nested serializers, many-to-many fields, dotted or ``*`` sources, or
read-only fields with defaults are left to DRF entirely (``fast_validator_for`` returns None).
"""

from __future__ import annotations

import decimal
import functools
import math
import re
from collections.abc import Callable
from enum import Enum
from typing import Annotated, Any, Final, Literal

import msgspec
from django.core import validators as django_validators
from rest_framework import fields as drf_fields
from rest_framework import relations, serializers
from rest_framework.exceptions import ValidationError
from rest_framework.validators import ProhibitSurrogateCharactersValidator

SURROGATES = re.compile("[\ud800-\udfff]")
# DRF's own fields whose run_validation / validate_empty_values / get_value are reproduced.
TRUSTED_HOOKS = {
    drf_fields.Field.run_validation,
    drf_fields.CharField.run_validation,
    relations.RelatedField.run_validation,
}
# DecimalField reads a blank string as null: blank strings always go to DRF.
TRUSTED_EMPTY_HANDLERS = {
    drf_fields.Field.validate_empty_values,
    drf_fields.DecimalField.validate_empty_values,
}
# DRF refuses longer strings for numbers ("String value too large.").
MAX_NUMBER_STRING = 1000


class Refused(Enum):
    """The answer of a compiled check that leaves the item to DRF."""

    REFUSED = "refused"


REFUSED: Final = Refused.REFUSED
# Module globals: the per-item loop looks them up faster than msgspec's attributes.
_UNSET = msgspec.UNSET
_convert = msgspec.convert
_astuple = msgspec.structs.astuple
Check = Callable[[Any, drf_fields.Field], bool]
Post = Callable[[Any], Any]
# A hashable description of a field's msgspec type, e.g. ("str", 50): building msgspec types (and
# msgspec's first use of a new one) costs far more than validating an item, so they are cached.
TypeSpec = tuple


def fast_validator_for(child: serializers.Serializer) -> FastItemValidator | None:
    """A ``FastItemValidator`` for ``child``, or None when only DRF itself can validate it."""
    if not isinstance(child, serializers.ModelSerializer) or not _plain_serializer(child):
        return None
    plans = []
    for name, field in child.fields.items():
        if field.read_only:
            continue
        plan = _plan_for(name, field)
        if plan is None:
            return None
        plans.append(plan)
    return FastItemValidator(child, plans)


def _plain_serializer(child: serializers.Serializer) -> bool:
    serializer_class = type(child)
    base = serializers.ModelSerializer
    overridden = [
        name
        for name in ("validate", "run_validation", "to_internal_value", "validate_empty_values")
        if getattr(serializer_class, name) is not getattr(base, name)
    ]
    hooks = [name for name in child.fields if hasattr(child, f"validate_{name}")]
    return not (overridden or hooks or child.validators or child._read_only_defaults())


class FieldPlan:
    """How one field is compiled: its msgspec type (as a ``TypeSpec``), and the Python that
    finishes its value."""

    def __init__(self, name: str, field: drf_fields.Field, spec: TypeSpec, post: Post) -> None:
        self.name = name
        self.field = field
        if field.source is None:
            raise ValueError(f"field {name!r} is not bound to a serializer")
        self.source: str = field.source
        self.spec = spec
        self.post = post
        self.allow_null = field.allow_null
        self.required = field.required
        self.has_default = field.default is not drf_fields.empty
        self.reads_context = getattr(field.default, "requires_context", False) or any(
            getattr(validator, "requires_context", False) for validator in field.validators
        )


def _plan_for(name: str, field: drf_fields.Field) -> FieldPlan | None:
    field_class = type(field)
    if isinstance(field, serializers.BaseSerializer | relations.ManyRelatedField):
        return None
    if field.source is None or field.source == "*" or "." in field.source:
        return None
    if field_class.run_validation not in TRUSTED_HOOKS:
        return None
    if field_class.validate_empty_values not in TRUSTED_EMPTY_HANDLERS:
        return None
    if field_class.get_value is not drf_fields.Field.get_value:
        return None
    for kind, compile_field in COMPILERS:
        if isinstance(field, kind) and field_class.to_internal_value is kind.to_internal_value:
            compiled = compile_field(field)
            if compiled is not None:
                return FieldPlan(name, field, *compiled)
    return FieldPlan(name, field, ("any",), _generic_post(field, _checks(field.validators)))


# -- checks: a validator as a predicate that never raises ---------------------------------------


def _checks(validators: list[Any], *, skip: tuple[type, ...] = ()) -> list[Check]:
    return [_check_for(v) for v in validators if not isinstance(v, skip)]


def _check_for(validator: Any) -> Check:
    """A predicate that is True when ``validator`` accepts a value."""
    if isinstance(validator, django_validators.MaxLengthValidator) and not callable(
        validator.limit_value
    ):
        limit = validator.limit_value
        return lambda value, field: len(value) <= limit
    if isinstance(validator, django_validators.MinLengthValidator) and not callable(
        validator.limit_value
    ):
        limit = validator.limit_value
        return lambda value, field: len(value) >= limit
    if isinstance(validator, django_validators.ProhibitNullCharactersValidator):
        return lambda value, field: "\x00" not in str(value)
    if isinstance(validator, ProhibitSurrogateCharactersValidator):
        return lambda value, field: str(value).isascii() or not SURROGATES.search(str(value))

    def run(value: Any, field: drf_fields.Field) -> bool:
        try:
            if getattr(validator, "requires_context", False):
                validator(value, field)
            else:
                validator(value)
        except Exception:
            return False
        return True

    return run


def _checked(value: Any, checks: list[Check], field: drf_fields.Field) -> Any:
    """``value`` when every check accepts it, else ``REFUSED``."""
    for check in checks:
        if not check(value, field):
            return REFUSED
    return value


def _static_limits(
    validators: list[Any], kind: type[django_validators.BaseValidator]
) -> tuple[list[int], list[Any]]:
    """The integer limits of the validators of exactly ``kind`` (msgspec states them), and the
    other validators (run in Python)."""
    limits = [v.limit_value for v in validators if type(v) is kind and type(v.limit_value) is int]
    rest = [v for v in validators if not (type(v) is kind and type(v.limit_value) is int)]
    return limits, rest


def _generic_post(field: drf_fields.Field, checks: list[Check]) -> Post:
    """The field's own conversion and validators; a blank string (which some fields read as
    null) and anything that raises go to DRF."""

    def post(value: Any) -> Any:
        if type(value) is str and not value.strip():
            return REFUSED
        try:
            converted = field.to_internal_value(value)
        except Exception:
            return REFUSED
        return _checked(converted, checks, field) if checks else converted

    return post


# -- compiled field types -----------------------------------------------------------------------


def _char(field: drf_fields.CharField) -> tuple[Any, Post]:
    """Strings: length bound by msgspec (trimming only shortens), then DRF's trim, blank,
    null-character and surrogate rules; numbers are converted by the field itself."""
    lengths, rest = _static_limits(field.validators, django_validators.MaxLengthValidator)
    checks = _checks(
        rest,
        skip=(
            django_validators.ProhibitNullCharactersValidator,
            ProhibitSurrogateCharactersValidator,
        ),
    )
    trim = field.trim_whitespace
    allow_blank = field.allow_blank
    other = _generic_post(field, _checks(field.validators))

    def post(value: Any) -> Any:
        if type(value) is not str:
            return other(value)
        if trim:
            value = value.strip()
        if not value:
            return "" if allow_blank else REFUSED
        if "\x00" in value or (not value.isascii() and SURROGATES.search(value)):
            return REFUSED
        return _checked(value, checks, field) if checks else value

    return ("str", min(lengths) if lengths else None), post


def _integer(field: drf_fields.IntegerField) -> tuple[Any, Post]:
    """Integers (any size): bounds checked by msgspec when they are plain integers; digit
    strings and floats are converted by the field itself."""
    lows, rest = _static_limits(field.validators, django_validators.MinValueValidator)
    highs, rest = _static_limits(rest, django_validators.MaxValueValidator)
    checks = _checks(rest)
    other = _generic_post(field, _checks(field.validators))

    def post(value: Any) -> Any:
        if type(value) is not int:
            return other(value)
        return _checked(value, checks, field) if checks else value

    return ("int", max(lows) if lows else None, min(highs) if highs else None), post


def _decimal(field: drf_fields.DecimalField) -> tuple[Any, Post] | None:
    """DRF's ``to_internal_value``, ``validate_precision`` and ``quantize`` in a few decimal
    operations (see ``_precise``)."""
    field_class = type(field)
    if (
        field.localize
        or field.max_digits is None
        or field.decimal_places is None
        or field.decimal_places > field.max_digits
        or field_class.validate_precision is not drf_fields.DecimalField.validate_precision
        or field_class.quantize is not drf_fields.DecimalField.quantize
    ):
        return None
    precise = _precise(field, field.max_digits, field.decimal_places)
    checks = _checks(field.validators)

    def post(value: Any) -> Any:
        try:
            text = (value if type(value) is str else str(value)).strip()
        except ValueError:  # an integer of more digits than str() converts
            return REFUSED
        if len(text) > MAX_NUMBER_STRING:
            return REFUSED
        try:
            number = precise(decimal.Decimal(text))
        except decimal.DecimalException:
            return REFUSED
        return _checked(number, checks, field) if checks else number

    return ("decimal",), post


def _precise(
    field: drf_fields.DecimalField, max_digits: int, decimal_places: int
) -> Callable[[decimal.Decimal], decimal.Decimal]:
    """DRF's precision check and quantizing, in fewer decimal operations (``max_digits`` and
    ``decimal_places``: the field's, both set).

    A non-zero number written with exactly ``decimal_places`` places is already quantized: only
    its whole digits are checked. Another finite non-zero number takes one ``quantize`` with
    ``Rounded`` trapped, which refuses more decimal places than allowed (even trailing zeros,
    which DRF counts), and the precision set to ``max_digits``, which refuses more whole digits;
    what passes is quantized without rounding, as DRF's. Zero (whose whole digits DRF counts from
    its exponent) takes DRF's own steps. A ``DecimalException`` is raised where DRF's answer is
    an error.
    """
    quantum = decimal.Decimal(".1") ** decimal_places
    whole_digits = max_digits - decimal_places  # DRF's max_whole_digits
    context = decimal.Context(prec=max_digits, traps=[decimal.Rounded, decimal.InvalidOperation])

    def precise(number: decimal.Decimal) -> decimal.Decimal:
        if number.same_quantum(quantum) and number and number.adjusted() < whole_digits:
            return number
        if not number.is_finite():
            raise decimal.InvalidOperation(number)
        if number:
            return number.quantize(quantum, context=context)
        try:
            return field.quantize(field.validate_precision(number))
        except ValidationError as exc:
            raise decimal.InvalidOperation(number) from exc

    return precise


def _float(field: drf_fields.FloatField) -> tuple[Any, Post]:
    """Floats as they are when finite; integers and strings through the field itself."""
    checks = _checks(field.validators)
    other = _generic_post(field, checks)

    def post(value: Any) -> Any:
        if type(value) is not float:
            return other(value)
        if not math.isfinite(value):
            return REFUSED
        return _checked(value, checks, field) if checks else value

    return ("float",), post


def _boolean(field: drf_fields.BooleanField) -> tuple[Any, Post] | None:
    """``true`` and ``false`` as they are; the strings and numbers DRF reads as booleans
    through the field itself."""
    if True not in field.TRUE_VALUES or False not in field.FALSE_VALUES:
        return None
    checks = _checks(field.validators)
    other = _generic_post(field, checks)
    if not checks:
        return ("bool",), lambda value: value if type(value) is bool else other(value)
    return ("bool",), other


COMPILERS: list[tuple[type[drf_fields.Field], Callable[[Any], tuple[Any, Post] | None]]] = [
    (drf_fields.CharField, _char),
    (drf_fields.IntegerField, _integer),
    (drf_fields.DecimalField, _decimal),
    (drf_fields.FloatField, _float),
    (drf_fields.BooleanField, _boolean),
]


# -- the validator ------------------------------------------------------------------------------


def _msgspec_type(spec: TypeSpec) -> Any:
    """The msgspec type of a ``TypeSpec``: the JSON types the field takes, the one compiled for
    speed first (with the limits msgspec states)."""
    kind, *limits = spec
    if kind == "str":
        (max_length,) = limits
        text = Annotated[str, msgspec.Meta(max_length=max_length)] if max_length else str
        return text | int | float
    if kind == "int":
        low, high = limits
        return Annotated[int, msgspec.Meta(ge=low, le=high)] | str | float
    return {
        "decimal": str | int | float,
        "float": float | int | str,
        "bool": bool | str | int | float,
        "any": Any,
    }[kind]


@functools.lru_cache(maxsize=256)
def _struct_type(fields: tuple[tuple[str, TypeSpec, bool, bool], ...]) -> type[msgspec.Struct]:
    """The msgspec type of an item, from ``(name, spec, optional, nullable)`` per field: fields
    named ``f0``… (renamed to the field names), in the order given."""
    members: list[tuple[Any, ...]] = []
    for position, (_, spec, optional, nullable) in enumerate(fields):
        value_type = _msgspec_type(spec)
        if nullable:
            value_type = value_type | None
        if optional:
            members.append((f"f{position}", value_type | msgspec.UnsetType, msgspec.UNSET))
        else:
            members.append((f"f{position}", value_type))
    rename = {f"f{position}": name for position, (name, *_) in enumerate(fields)}
    return msgspec.defstruct("Item", members, kw_only=True, rename=rename)


def _struct_fields(plans: list[FieldPlan], *, partial: bool) -> tuple:
    """The key of ``_struct_type``: optional when partial or not required."""
    return tuple(
        (plan.name, plan.spec, partial or not plan.required, plan.allow_null) for plan in plans
    )


class FastItemValidator:
    """Validates one item like ``child.run_validation(item)`` does, much faster on valid items."""

    def __init__(self, child: serializers.Serializer, plans: list[FieldPlan]) -> None:
        self.child = child
        self.fields = [
            (plan.source, plan.post, plan.allow_null, plan.field if plan.has_default else None)
            for plan in plans
        ]
        self.full_type = _struct_type(_struct_fields(plans, partial=False))
        self.partial_type = _struct_type(_struct_fields(plans, partial=True))
        #: Whether a validator or default may read ``serializer.instance`` (through its field).
        self.reads_instance = any(plan.reads_context for plan in plans)

    def __call__(self, item: Any) -> dict[str, Any]:
        """The validated data of ``item``; raises DRF's ``ValidationError`` as it would."""
        validated = self.fast(item)
        if validated is REFUSED:
            return self.child.run_validation(item)
        return validated

    def fast(self, item: Any) -> dict[str, Any] | Literal[Refused.REFUSED]:
        """The validated data of ``item``, or ``REFUSED`` when DRF must validate it."""
        if type(item) is not dict:
            return REFUSED
        partial = self.child.partial
        try:
            values = _astuple(_convert(item, self.partial_type if partial else self.full_type))
        except msgspec.ValidationError:
            return REFUSED
        validated: dict[str, Any] = {}
        for (source, post, allow_null, default_field), value in zip(
            self.fields, values, strict=True
        ):
            if value is _UNSET:
                if default_field is not None and not partial:
                    try:
                        validated[source] = default_field.get_default()
                    except drf_fields.SkipField:
                        pass
                continue
            if value is not None:
                value = post(value)
                if value is REFUSED:
                    return REFUSED
            elif not allow_null:
                return REFUSED
            validated[source] = value
        return validated
