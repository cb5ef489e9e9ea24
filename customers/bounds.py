"""Plausible values of the records, enforced the same way by every door.

The UI, the API, the imports, the admin and the shell all save through ``full_clean`` or the
database: the validators here run in ``full_clean`` (and in the forms and serializers built from
the model fields), and a ``CheckConstraint`` behind each bound refuses what slips past them
(``bulk_create``, raw SQL). A bound that depends on the clock (no future dates) can only be a
validator; the database holds the fixed floor :data:`DB_EARLIEST_DATE`.

Why: pandas' nanosecond timestamps stop at 1677-09-21, so one order dated year 1 stopped every
score run; two orders of 99 x 9,999,999,999.99 made the customer's aggregates overflow their
columns and every read of that customer fail.
"""
from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator, MaxValueValidator
from django.db.models import CheckConstraint, Q
from django.db.models.functions import Length
from django.db.models.lookups import LessThanOrEqual
from django.utils import timezone
from django.utils.deconstruct import deconstructible
from django.utils.translation import gettext_lazy as _

# The floor the database constraints hold; settings.DATA_EARLIEST_DATE may only raise it.
DB_EARLIEST_DATE = date(1900, 1, 1)
DB_EARLIEST_DATETIME = datetime(1900, 1, 1, tzinfo=UTC)

# Largest price of one unit and largest order total. Far above any real order of this business
# (the imports already call amounts over 1,000,000 absurd) and far below the columns' 12 and 14
# digits, so a sum of many orders still fits the customer's aggregate columns.
MAX_AMOUNT = Decimal("100000000.00")
MAX_QUANTITY = 1_000_000
# The largest value a 14-digit, 2-place aggregate column (total_spent, clv_12m) holds. The score
# writer caps at it; a higher value would make the row unreadable on SQLite.
MAX_AGGREGATE = Decimal("999999999999.99")

# Longest texts people write; longer ones are refused at every door.
MAX_FEEDBACK_TEXT = 20_000
MAX_NOTE = 10_000


def earliest_date() -> date:
    return max(settings.DATA_EARLIEST_DATE, DB_EARLIEST_DATE)


def latest_event_time() -> datetime:
    return timezone.now() + timedelta(days=settings.DATA_MAX_FUTURE_DAYS)


def _as_datetime(value: date | datetime) -> datetime:
    if isinstance(value, datetime):
        return value if timezone.is_aware(value) else timezone.make_aware(value, UTC)
    return datetime.combine(value, time.min, tzinfo=UTC)


@deconstructible
class EventDateValidator:
    """A date or time of an event (an order, feedback, a signup): from the configured earliest
    date up to ``DATA_MAX_FUTURE_DAYS`` days ahead (clocks of source systems differ a little)."""

    def __call__(self, value: date | datetime | None) -> None:
        if value is None:
            return
        earliest = earliest_date()
        if _as_datetime(value) < _as_datetime(earliest):
            raise ValidationError(_("Must be on or after %(date)s."), code="too_early",
                                  params={"date": earliest.isoformat()})
        latest = latest_event_time()
        if _as_datetime(value) > latest:
            raise ValidationError(_("Must not be later than %(date)s."), code="too_late",
                                  params={"date": latest.date().isoformat()})

    def __eq__(self, other) -> bool:
        return isinstance(other, EventDateValidator)


@deconstructible
class BirthDateValidator:
    """A birth date: from the configured earliest date up to today."""

    def __call__(self, value: date | None) -> None:
        if value is None:
            return
        earliest = earliest_date()
        if value < earliest:
            raise ValidationError(_("Must be on or after %(date)s."), code="too_early",
                                  params={"date": earliest.isoformat()})
        if value > timezone.localdate():
            raise ValidationError(_("A birth date cannot be in the future."), code="future")

    def __eq__(self, other) -> bool:
        return isinstance(other, BirthDateValidator)


event_date = EventDateValidator()
birth_date = BirthDateValidator()
max_amount = MaxValueValidator(MAX_AMOUNT)
max_quantity = MaxValueValidator(MAX_QUANTITY)
max_feedback_text = MaxLengthValidator(MAX_FEEDBACK_TEXT)
max_note = MaxLengthValidator(MAX_NOTE)


def date_floor(field: str, prefix: str, *, nullable: bool = False) -> CheckConstraint:
    """Database constraint: ``field`` is not before :data:`DB_EARLIEST_DATE` (a fixed date: a
    constraint cannot read the clock or the settings)."""
    floor = DB_EARLIEST_DATETIME if not field.endswith("date") else DB_EARLIEST_DATE
    condition = Q(**{f"{field}__gte": floor})
    if nullable:
        condition |= Q(**{f"{field}__isnull": True})
    return CheckConstraint(condition=condition, name=f"{prefix}_{field}_not_before_1900")


def at_most(field: str, prefix: str, limit, *, nullable: bool = False) -> CheckConstraint:
    condition = Q(**{f"{field}__lte": limit})
    if nullable:
        condition |= Q(**{f"{field}__isnull": True})
    return CheckConstraint(condition=condition, name=f"{prefix}_{field}_at_most")


def length_at_most(field: str, prefix: str, limit: int) -> CheckConstraint:
    return CheckConstraint(condition=LessThanOrEqual(Length(field), limit),
                           name=f"{prefix}_{field}_length")
