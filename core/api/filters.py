"""Filter backends shared by every API list."""

from __future__ import annotations

from datetime import UTC, datetime

import django_filters
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.utils.translation import gettext_lazy as _
from rest_framework.filters import OrderingFilter

RANGE = ["exact", "gte", "lte"]


class SingleFieldOrderingFilter(OrderingFilter):
    """Ordering by one field (the keyset pagination adds the id as tie-breaker)."""

    ordering_description = _("Sort by one field; prefix with '-' for descending. Ties are ordered by id.")


def model_lookups(model: type[models.Model], names) -> dict[str, list[str]]:
    """``Meta.fields`` for a FilterSet: ranges for numbers and dates, equality for the rest."""
    lookups = {}
    for name in names:
        field = model._meta.get_field(name)
        ranged = (
            isinstance(field, (models.IntegerField, models.FloatField, models.DecimalField, models.DateField))
            and not field.choices
        )
        lookups[name] = RANGE if ranged else ["exact"]
    return lookups


def annotated_filters(model: type[models.Model], names) -> dict[str, django_filters.Filter]:
    """Filters on fields of ``model`` that the filtered queryset carries under the same names
    (a customer's scores, annotated by its manager): named and typed as ``Meta.fields`` would
    name and type them for fields of the queryset's own model (:func:`model_lookups`)."""
    filters = {}
    for name, lookups in model_lookups(model, names).items():
        field = model._meta.get_field(name)
        for lookup in lookups:
            key = name if lookup == "exact" else f"{name}__{lookup}"
            filters[key] = django_filters.FilterSet.filter_for_field(field, name, lookup)
    return filters


def describe_filters(filterset: django_filters.FilterSet, *annotated: type[models.Model]) -> None:
    """Give every filter a description for the schema, from its model field's verbose name (or
    that of the field of an ``annotated`` model the queryset carries under the same name)."""
    models_ = (filterset._meta.model, *annotated)
    for filter_ in filterset.base_filters.values():
        if filter_.extra.get("help_text"):
            continue
        field_name, lookup = filter_.field_name, filter_.lookup_expr
        verbose = None
        for model in models_:
            try:
                verbose = str(model._meta.get_field(field_name).verbose_name)
                break
            except FieldDoesNotExist:
                continue
        if verbose is None:  # a method filter: it carries its own help text
            continue
        text = {
            "exact": verbose,
            "gte": f"{verbose} at least",
            "lte": f"{verbose} at most",
            "iexact": f"{verbose} (any case)",
        }.get(lookup, f"{verbose} ({lookup})")
        filter_.extra["help_text"] = text
        if filter_._label is None:  # a label given for a page's form stays
            filter_.label = text


class UtcFilterSet(django_filters.FilterSet):
    """Compares dates and times in UTC.

    A filter value may carry any offset Python accepts (up to +/-23:59), but PostgreSQL refuses
    offsets beyond +/-15:59 ("time zone displacement out of range"), which made such a query a
    500. Converted to UTC first, every valid instant is accepted. An instant that has no UTC
    form inside Python's years 1-9999 (``9999-12-31T23:59:59-05:00``) is a form error, so a 400
    naming the filter, not an ``OverflowError``.
    """

    def get_form_class(self):
        base = super().get_form_class()

        class UtcForm(base):
            def clean(self):
                cleaned = super().clean()
                for name, value in list(cleaned.items()):
                    if isinstance(value, datetime) and value.tzinfo is not None:
                        try:
                            cleaned[name] = value.astimezone(UTC)
                        except OverflowError:
                            del cleaned[name]
                            self.add_error(name, _("This time is out of range."))
                return cleaned

        return UtcForm
