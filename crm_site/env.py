"""Typed access to environment variables for settings.

Every setting that comes from the environment goes through :func:`env`, which converts the raw
string with a caster and raises ``ImproperlyConfigured`` naming the variable and the bad value.
A typo such as ``DEBUG=flase`` must stop the process at start-up rather than be read as False.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TypeVar

import environ
from django.core.exceptions import ImproperlyConfigured

T = TypeVar("T")

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}
# Database URL schemes we support, mapped by django-environ to Django backends.
_DATABASE_SCHEMES = {"sqlite", "postgres", "postgresql", "pgsql", "psql"}


def to_bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError("expected one of 1/0, true/false, yes/no, on/off")


def to_int(raw: str) -> int:
    return int(raw.strip())


def to_float(raw: str) -> float:
    return float(raw.strip())


def to_list(raw: str) -> list[str]:
    return [part.strip() for part in raw.split(",") if part.strip()]


def to_database(raw: str) -> dict[str, Any]:
    scheme = raw.split("://", 1)[0].lower() if "://" in raw else ""
    if scheme not in _DATABASE_SCHEMES:
        raise ValueError(f"unsupported scheme {scheme or '(none)'!r}; use sqlite:/// or postgres://")
    config = environ.Env.db_url_config(raw)
    if not config.get("NAME"):
        raise ValueError("the URL names no database")
    return config


def to_currency(raw: str) -> str:
    """An ISO 4217 code that Babel (CLDR) knows, upper-cased: ``cny`` -> ``CNY``."""
    from babel.numbers import is_currency

    code = raw.strip().upper()
    if not is_currency(code):
        raise ValueError("expected an ISO 4217 currency code such as CNY, USD or EUR")
    return code


def to_str(raw: str) -> str:
    return raw


def to_choice(*choices: str) -> Callable[[str], str]:
    """A caster that accepts one of ``choices`` (case-insensitive) and names them otherwise."""
    def cast(raw: str) -> str:
        value = raw.strip().lower()
        if value not in choices:
            raise ValueError(f"expected one of {', '.join(choices)}")
        return value
    return cast


def env(name: str, default: T, cast: Callable[[str], T] = to_str) -> T:
    """Return ``cast(os.environ[name])``, or ``default`` when the variable is unset."""
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        return cast(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"Environment variable {name}={raw!r} is invalid: {exc}") from exc
