"""Keyset (cursor) pagination that stays correct when sorting by a score field.

DRF's ``CursorPagination`` keeps only the first ordering field's value in its cursor and skips
ties by counting rows (capped at 1,000), and it cannot place NULLs. Score fields have many ties
(``rfm_r`` takes five values over a million customers) and are NULL until the first run, so here
the cursor holds the pair (sort value, id): the next page is "rows after this pair" in the order
``sort value (NULLs last), id``, one indexed query whatever the page number, and no count query.

The sort field comes from the view's ``OrderingFilter`` (one field; ``?ordering=-churn_probability``),
else the view's ``ordering``; the id breaks ties in the same direction. The response shape and
the schema are DRF's cursor pagination's: ``{"next", "previous", "results"}``.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _
from rest_framework.exceptions import NotFound
from rest_framework.pagination import CursorPagination, PageNumberPagination
from rest_framework.utils.urls import replace_query_param


@dataclass(frozen=True)
class _Cursor:
    ordering: str
    value: Any
    is_null: bool
    pk: int
    forward: bool


def _plain(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


class KeysetPagination(CursorPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500
    ordering = "id"
    invalid_cursor_message = _("Invalid cursor")

    def _ordering_term(self, request, queryset, view) -> str:
        terms = self.get_ordering(request, queryset, view)
        term = terms[0] if terms else "id"
        return "id" if term.lstrip("-") == "pk" else term

    def paginate_queryset(self, queryset, request, view=None):
        self.request = request
        self.page_size = self.get_page_size(request)
        if not self.page_size:
            return None
        self.base_url = request.build_absolute_uri()
        self.term = self._ordering_term(request, queryset, view)
        self.field_name = self.term.lstrip("-")
        self.descending = self.term.startswith("-")
        try:
            self.field = queryset.model._meta.get_field(self.field_name)
        except FieldDoesNotExist as exc:
            # A field the queryset carries as an annotation (a customer's scores) is its
            # expression's field; a view listing a field its model lacks is a bug.
            annotation = queryset.query.annotations.get(self.field_name)
            if annotation is None:
                raise AssertionError(f"cannot order by {self.field_name!r}") from exc
            self.field = annotation.output_field

        cursor = self._decode(request)
        forward = cursor is None or cursor.forward
        rows = queryset.order_by(*self._order_by(forward))
        if cursor is not None:
            rows = rows.filter(self._beyond(cursor))
        rows = list(rows[: self.page_size + 1])
        more = len(rows) > self.page_size
        rows = rows[: self.page_size]
        if forward:
            self.has_next, self.has_previous = more, cursor is not None
        else:
            rows.reverse()
            self.has_next, self.has_previous = True, more
        self.page = rows
        if rows and self.template is not None:
            self.display_page_controls = True
        return rows

    # The order: values ascending or descending with NULLs after them, then the id.
    def _order_by(self, forward: bool) -> list:
        descending = self.descending if forward else not self.descending
        pk = "-id" if descending else "id"
        if self.field_name == "id":
            return [pk]
        nulls = {"nulls_last": True} if forward else {"nulls_first": True}
        value = F(self.field_name)
        return [value.desc(**nulls) if descending else value.asc(**nulls), pk]

    def _beyond(self, cursor: _Cursor) -> Q:
        """Rows after the cursor's row when going forward, before it when going back."""
        lookup = "gt" if (not self.descending) == cursor.forward else "lt"
        if self.field_name == "id":
            return Q(**{f"id__{lookup}": cursor.pk})
        name = self.field_name
        if cursor.is_null:
            condition = Q(**{f"{name}__isnull": True, f"id__{lookup}": cursor.pk})
            return condition if cursor.forward else condition | Q(**{f"{name}__isnull": False})
        condition = Q(**{f"{name}__{lookup}": cursor.value}) | Q(
            **{name: cursor.value, f"id__{lookup}": cursor.pk}
        )
        return condition | Q(**{f"{name}__isnull": True}) if cursor.forward else condition

    def _decode(self, request) -> _Cursor | None:
        encoded = request.query_params.get(self.cursor_query_param)
        if encoded is None:
            return None
        try:
            raw = json.loads(base64.urlsafe_b64decode(encoded.encode("ascii")))
            cursor = _Cursor(
                ordering=str(raw["o"]),
                value=raw["v"],
                is_null=bool(raw["n"]),
                pk=int(raw["k"]),
                forward=bool(raw["f"]),
            )
            if not 0 <= cursor.pk < 2**63:
                raise ValueError("id out of range")
            if cursor.ordering != self.term:
                raise ValueError("cursor made for another ordering")
            if not cursor.is_null and self.field_name != "id":
                cursor = _Cursor(
                    cursor.ordering, self.field.to_python(cursor.value), False, cursor.pk, cursor.forward
                )
                if cursor.value is None or (isinstance(cursor.value, int) and abs(cursor.value) >= 2**63):
                    raise ValueError("value out of range")
        except (
            KeyError,
            TypeError,
            ValueError,
            UnicodeEncodeError,
            binascii.Error,
            ValidationError,
            OverflowError,
        ) as exc:
            raise NotFound(self.invalid_cursor_message) from exc
        return cursor

    def _encode(self, row, forward: bool) -> str:
        value = getattr(row, self.field.attname)
        payload = {"o": self.term, "v": _plain(value), "n": value is None, "k": row.pk, "f": forward}
        encoded = base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode()).decode()
        return replace_query_param(self.base_url, self.cursor_query_param, encoded)

    def get_next_link(self) -> str | None:
        if not self.has_next or not self.page:
            return None
        return self._encode(self.page[-1], forward=True)

    def get_previous_link(self) -> str | None:
        if not self.has_previous or not self.page:
            return None
        return self._encode(self.page[0], forward=False)


class PagePagination(PageNumberPagination):
    """Numbered pages with a total ``count``: ``{"count", "next", "previous", "results"}``.

    For lists that are not a queryset in a stable order (duplicate pairs computed in Python) and
    for the small lists of campaigns and service tasks, where a count is cheap and useful. Large
    record lists use :class:`KeysetPagination`.
    """

    page_size = 50
