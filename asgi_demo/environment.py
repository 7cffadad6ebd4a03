"""The demo's settings read from the environment: flags, and the ``BULK_DRF_*`` settings.

Every setting of the package (``django_bulk_drf.settings.DEFAULTS``) can be set as an environment
variable of the same name, typed like its default: an integer default takes an integer
(``BULK_DRF_MAX_RECORDS=1000000``), a boolean one ``1``/``0``/``true``/``false`` (or ``yes``/``no``,
``on``/``off``), a float one a number; a setting whose default is ``None`` (an import string)
takes the text as it is. An empty variable counts as unset. A value that does not parse, or a
``BULK_DRF_*`` variable that names no setting, stops the start-up with ``ImproperlyConfigured``:
a typo in a deployment's environment must not be silently ignored.
"""

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ImproperlyConfigured

from django_bulk_drf.settings import DEFAULTS, PREFIX

TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off")


def parse_flag(name: str, value: str) -> bool:
    """``1``/``true``/``yes``/``on`` or ``0``/``false``/``no``/``off``, in any case."""
    word = value.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ImproperlyConfigured(f"{name}={value!r}: expected 1/0, true/false, yes/no or on/off.")


def env_flag(environ: Mapping[str, str], name: str, default: bool) -> bool:
    """The flag ``name`` of ``environ``; ``default`` when it is unset or empty."""
    value = environ.get(name, "")
    return parse_flag(name, value) if value.strip() else default


def parse_like(name: str, value: str, default: Any) -> Any:
    """``value`` converted to the type of ``default`` (text when the default is None or text)."""
    if isinstance(default, bool):
        return parse_flag(name, value)
    for kind, word in ((int, "an integer"), (float, "a number")):
        if isinstance(default, kind):
            try:
                return kind(value.strip())
            except ValueError:
                raise ImproperlyConfigured(
                    f"{name}={value!r}: expected {word} (the default is {default})."
                ) from None
    return value


def bulk_settings_from_env(environ: Mapping[str, str]) -> dict[str, Any]:
    """``{"BULK_DRF_<NAME>": value}`` for each package setting set (non-empty) in ``environ``."""
    unknown = sorted(
        name
        for name, value in environ.items()
        if name.startswith(PREFIX) and value.strip() and name[len(PREFIX) :] not in DEFAULTS
    )
    if unknown:
        known = ", ".join(PREFIX + name for name in DEFAULTS)
        raise ImproperlyConfigured(f"Unknown setting(s) {', '.join(unknown)}; known: {known}.")
    return {
        PREFIX + name: parse_like(PREFIX + name, environ[PREFIX + name], default)
        for name, default in DEFAULTS.items()
        if environ.get(PREFIX + name, "").strip()
    }
