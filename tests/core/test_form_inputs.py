"""Every date, time and number input of every staff form renders a value the browser's native
input accepts (ISO dates, dot decimals, no grouping) in English and in Chinese.

Simplified Chinese's first date input format is ``%Y/%m/%d``: before core/widgets.py the task
form's Due default rendered as ``2026/12/02``, which ``<input type="date">`` rejects (issue 16).
"""
from __future__ import annotations

import datetime as dt
import inspect
import re
from decimal import Decimal

import pytest
from django import forms
from django.utils import timezone, translation

import campaigns.forms
import customers.filters
import customers.forms
import intake.views
from core.widgets import IsoDateInput, IsoDateTimeLocalInput

MODULES = (customers.forms, campaigns.forms, intake.views)
ACCEPTED = {
    "date": re.compile(r"^\d{4}-\d{2}-\d{2}$"),
    "datetime-local": re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$"),
    "time": re.compile(r"^\d{2}:\d{2}(:\d{2})?$"),
    "number": re.compile(r"^-?\d+(\.\d+)?$"),
}
INPUT = re.compile(r"<input\b[^>]*>")


def _forms() -> list[type[forms.BaseForm]]:
    found = []
    for module in MODULES:
        for _name, value in inspect.getmembers(module, inspect.isclass):
            if issubclass(value, forms.BaseForm) and value.__module__ == module.__name__:
                found.append(value)
    return found


def _initial(form: forms.BaseForm) -> dict:
    values = {}
    for name, field in form.fields.items():
        if isinstance(field, forms.DateTimeField):
            values[name] = timezone.make_aware(dt.datetime(2026, 12, 2, 14, 30))
        elif isinstance(field, forms.DateField):
            values[name] = dt.date(2026, 12, 2)
        elif isinstance(field, forms.DecimalField):
            values[name] = Decimal("12345.5")
        elif isinstance(field, forms.FloatField):
            values[name] = 0.25 if field.max_value == 1 else 12345.5
        elif isinstance(field, forms.IntegerField):
            values[name] = 1234
    return values


def _typed_inputs(html: str) -> list[tuple[str, str]]:
    out = []
    for tag in INPUT.findall(html):
        kind = re.search(r'type="([^"]+)"', tag)
        value = re.search(r'value="([^"]*)"', tag)
        if kind and kind.group(1) in ACCEPTED and value:
            out.append((kind.group(1), value.group(1)))
    return out


def _render(form_class, language: str) -> list[tuple[str, str]]:
    kwargs = {"user": None} if "user" in inspect.signature(form_class.__init__).parameters else {}
    with translation.override(language):
        form = form_class(**kwargs)
        form.initial = _initial(form)
        return _typed_inputs(str(form))


@pytest.mark.django_db
@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_every_form_input_renders_an_iso_value(language):
    checked = []
    for form_class in _forms():
        for kind, value in _render(form_class, language):
            assert ACCEPTED[kind].match(value), f"{form_class.__name__}: {kind} input value {value!r}"
            checked.append(kind)
    # The campaign form's dates, the task form's due date, the interaction's time and numbers.
    assert {"date", "datetime-local", "number"} <= set(checked)


@pytest.mark.django_db
def test_the_task_form_due_date_is_iso_in_chinese():
    values = dict(_render(campaigns.forms.ServiceTaskCreateForm, "zh-hans"))
    assert values == {"date": "2026-12-02"}


@pytest.mark.django_db
def test_the_customer_list_number_filters_keep_dot_decimals_in_chinese():
    with translation.override("zh-hans"):
        html = str(customers.filters.CustomerListFilter(
            {"churn_min": "0.25", "clv_min": "12345.5"}, user=None).form)
    assert {v: k for k, v in _typed_inputs(html)} == {"0.25": "number", "12345.5": "number"}


def test_the_widgets_parse_back_what_they_render():
    with translation.override("zh-hans"):
        field = forms.DateField(widget=IsoDateInput())
        assert field.clean(field.widget.format_value(dt.date(2026, 12, 2))) == dt.date(2026, 12, 2)
        moment = dt.datetime(2026, 12, 2, 14, 30)
        field = forms.DateTimeField(widget=IsoDateTimeLocalInput())
        assert field.clean(field.widget.format_value(moment)).replace(tzinfo=None) == moment
