"""What counts as a customer's contact or identity data, decided in one place.

The contact fields (``PII_FIELDS``) are known by name. ``Customer.attributes`` holds whatever
columns an import did not map (``contact_email``, ``secondary_phone``, ``home_address``,
``id_card`` ...), so an attribute is classified by its name *and* by its value: a column named
``note`` that holds an e-mail address is contact data too. Every door that shows attributes (the
customer 360, the API, the admin and its history) and the churn model's inputs go through
:func:`is_pii_attribute`.

Lookups are classified here as well: a filter, search or ordering that reaches a contact field,
directly (``email__startswith``) or through relations (``customer__email``), would reveal the
value one guess at a time, so the admin refuses it for users without ``customers.view_pii``.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from django.core.exceptions import FieldDoesNotExist
from django.db.models.constants import LOOKUP_SEP

from .models import PII_FIELDS, Customer
from .permissions import can_view_pii

# Fields of a customer record (and of its history rows) hidden without ``view_pii``; the
# attributes are shown only after their PII keys are taken out.
PII_RECORD_FIELDS = (*PII_FIELDS, "attributes")
MASK = "***"

# Attribute names that say contact or identity data, matched on the name lower-cased with every
# run of other characters turned into "_" (``Secondary Phone`` -> ``secondary_phone``).
# Short words (tel, qq, zip, ssn ...) only as whole words, so ``hotel`` or ``intel`` pass.
_PII_NAME = re.compile(
    r"e_?mail|phone|mobile|telephone|whatsapp|wechat|weixin|telegram|skype|address|street|"
    r"post_?code|postal|zip_?code|id_?card|id_?number|identity|national_?id|social_?security|"
    r"passport|licen[cs]e_?(no|number)|driver_?s?_?licen[cs]e|tax_?id|iban|swift|"
    r"card_?(no|number)|credit_?card|bank_?account|account_?number|birth|"
    r"(^|_)(tel|cell|fax|qq|line_id|addr|zip|ssn|nin|dob|ip|imei|id_no|idno)(_|$)|"
    r"邮箱|邮件|电话|手机|地址|身份证|证件|护照|微信|生日|出生|银行",
)
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
# Searched for anywhere in the value ("call 13912345678 after six" is contact data too), never
# inside a longer run of digits or letters.
_NOT_AFTER, _NOT_BEFORE = r"(?<![\dA-Za-z])", r"(?![\dA-Za-z])"
_CONTACT_NUMBER_PATTERNS = (
    # "+86 138 0013 8000", "+1 (555) 123-4567": a leading + and 7 to 15 digits.
    r"\+\s*\d[\d\s().-]{5,20}\d",
    # A Chinese mobile number, with or without spaces or dashes.
    r"1[3-9]\d(?:[\s-]?\d){8}",
    # "(555) 123-4567", "555-123-4567", "010 6552 9988"; a date ("2024-01-05") has a two-digit
    # middle group and does not match.
    r"\(?\d{2,4}\)?[\s.-]\d{3,4}[\s.-]\d{3,4}",
    # A Chinese resident identity number: 18 characters (17 digits and a check character)
    # since 1999, 15 digits before; six area digits, then the birth date.
    r"\d{6}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dXx]",
    r"\d{8}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}",
    # A US social security number.
    r"\d{3}-\d{2}-\d{4}",
)
_CONTACT_NUMBERS = re.compile(f"{_NOT_AFTER}({'|'.join(_CONTACT_NUMBER_PATTERNS)}){_NOT_BEFORE}")
_CARD = re.compile(r"\d(?:[ -]?\d){12,18}")


def _normalised_names(key: str) -> tuple[str, str]:
    """The name lower-cased with every run of other characters as one "_", as written
    (``WeChat ID`` -> ``wechat_id``) and with camelCase split (``customerEmail`` ->
    ``customer_email``)."""
    def normalised(text: str) -> str:
        return re.sub(r"[^0-9a-z\u4e00-\u9fff]+", "_", text.lower()).strip("_")

    key = str(key)
    return normalised(key), normalised(re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", key))


def _luhn_valid(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def looks_like_pii_value(value) -> bool:
    """An e-mail address, a phone number, an identity or card number (also inside lists and
    objects). Floats are measures, never identifiers; whole numbers are read as digit strings
    because a phone number imported from a spreadsheet often arrives as one."""
    if isinstance(value, Mapping):
        return any(looks_like_pii_value(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(looks_like_pii_value(v) for v in value)
    if isinstance(value, bool) or value is None or isinstance(value, float):
        return False
    text = str(value).strip()
    if _EMAIL.search(text) or _CONTACT_NUMBERS.search(text):
        return True
    return bool(_CARD.fullmatch(text)) and _luhn_valid(re.sub(r"\D", "", text))


def is_pii_attribute_name(key: str) -> bool:
    """The attribute's name says contact or identity data (``contact_email``, ``id_card``)."""
    return any(_PII_NAME.search(name) for name in _normalised_names(key))


def is_pii_attribute(key: str, value=None) -> bool:
    """One attribute of one customer is contact or identity data, by its name or its value."""
    return is_pii_attribute_name(key) or looks_like_pii_value(value)


def pii_attribute_keys(attributes: Mapping | None) -> set[str]:
    if not isinstance(attributes, Mapping):
        return set()
    return {key for key, value in attributes.items() if is_pii_attribute(key, value)}


def pii_attribute_columns(records: Iterable[Mapping]) -> set[str]:
    """The attribute columns that hold contact or identity data for any customer: such a column
    must not be a model input, whatever the other customers' values are."""
    keys: set[str] = set()
    for attributes in records:
        if isinstance(attributes, Mapping):
            keys.update(pii_attribute_keys({k: v for k, v in attributes.items() if k not in keys}))
    return keys


def visible_attributes(attributes: Mapping | None, *, user) -> dict:
    """The attributes this user may see: all of them with ``customers.view_pii``, otherwise
    those that are not contact or identity data."""
    if not isinstance(attributes, Mapping):
        return {}
    if can_view_pii(user):
        return dict(attributes)
    hidden = pii_attribute_keys(attributes)
    return {key: value for key, value in attributes.items() if key not in hidden}


def hidden_attributes(attributes: Mapping | None, *, user) -> dict:
    """The attributes this user may not see (kept as they are when that user saves a record)."""
    if not isinstance(attributes, Mapping) or can_view_pii(user):
        return {}
    hidden = pii_attribute_keys(attributes)
    return {key: value for key, value in attributes.items() if key in hidden}


def is_customer_model(model) -> bool:
    """Customer itself, or its history model (``HistoricalCustomer``)."""
    return model is Customer or getattr(model, "instance_type", None) is Customer


def pii_field_names(model) -> tuple[str, ...]:
    return PII_RECORD_FIELDS if is_customer_model(model) else ()


def lookup_reaches_pii(model, lookup: str) -> bool:
    """The lookup or ordering path (``email__startswith``, ``customer__phone``, ``-birth_date``,
    ``order__customer__attributes__id_card``) reads a customer's contact field or attributes."""
    current = model
    for part in lookup.lstrip("-+^=@$").split(LOOKUP_SEP):
        try:
            field = current._meta.get_field(part)
        except FieldDoesNotExist:
            return False  # a lookup or transform name: the path ends here
        if field.name in pii_field_names(current):
            return True
        if not field.is_relation or field.related_model is None:
            return False
        current = field.related_model
    return False
