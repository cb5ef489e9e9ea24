"""Normalised forms of contact details, shared by models, imports and the API.

Email addresses are stored lower-case and stripped; phone numbers in E.164 (``+8613800138000``),
parsed with the ``phonenumbers`` library using ``settings.PHONE_DEFAULT_REGION`` for numbers
written without a country code.
"""
from __future__ import annotations

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email


def normalise_email(raw: str | None) -> str:
    """Return the lower-case address, or "" for blank input; raise ValidationError when invalid."""
    value = (raw or "").strip().lower()
    if not value:
        return ""
    validate_email(value)
    return value


def normalise_phone(raw: str | None, region: str | None = None) -> str:
    """Return the number in E.164, or "" for blank input; raise ValidationError when invalid."""
    value = (raw or "").strip()
    if not value:
        return ""
    try:
        number = phonenumbers.parse(value, region or settings.PHONE_DEFAULT_REGION)
    except phonenumbers.NumberParseException as exc:
        raise ValidationError(f"{value!r} is not a phone number ({exc._msg}).") from exc
    if not phonenumbers.is_valid_number(number):
        raise ValidationError(f"{value!r} is not a valid phone number.")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
