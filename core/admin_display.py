"""Read-only admin displays that the apps' admins share.

A JSON field the analytics or a job wrote (model cards, timings, churn reasons) holds codes and
numbers: a record, not wording. The admin shows it as code, as it is stored; the staff pages put
it into words in the reader's language.
"""
from __future__ import annotations

import json

from django.contrib import admin
from django.contrib.admin.utils import display_for_field
from django.utils.html import format_html


def stored_json(model, field_name: str):
    """A read-only admin display of ``model.field_name`` as code, labelled with the field's name.

    Assign it on the ModelAdmin (``model_cards_record = stored_json(ScoreRun, "model_cards")``)
    and list that name where the field would be."""
    field = model._meta.get_field(field_name)

    @admin.display(description=field.verbose_name)
    def display(model_admin, obj) -> str:
        value = getattr(obj, field_name)
        if value in (None, "", {}, []):
            return "-"
        return format_html("<code>{}</code>", json.dumps(value, ensure_ascii=False, cls=field.encoder))

    return display


def record_names(names, json_fields) -> list[str]:
    """``names`` with each JSON field replaced by its display's name."""
    return [f"{name}_record" if name in json_fields else name for name in names]


def field_display(model, field_name: str, *, ordering: str | None = None):
    """A read-only admin display of ``obj.<field_name>`` shown as ``model``'s field of that name
    (label, choices, number and date formats): for a field the admin's model reads through a
    relation, such as a customer's scores. ``ordering`` makes its list column sortable."""
    field = model._meta.get_field(field_name)

    @admin.display(description=field.verbose_name, ordering=ordering)
    def display(model_admin, obj) -> str:
        return display_for_field(getattr(obj, field_name), field, model_admin.get_empty_value_display())

    return display
