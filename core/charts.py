"""Chart.js configurations, rendered with ``json_script`` and drawn by ``static/js/charts.js``.

Colours are named here, never written: ``"var(--risk-high)"`` is a custom property of
``static/css/crm.css``, where the palette lives (one meaning per concept: churn risk, value,
sentiment, and neutral series), and charts.js puts the property's value in its place when it draws.
``"var(--series-2) / 0.15"`` is the same colour at 15 % opacity, for bands and fills.

Every axis has a title that names the quantity and its unit (``x_title``/``y_title``, or ``title``
in a scale of ``scales``); a money axis names the currency (``core.formatting.currency_code``).
"""
from __future__ import annotations

from django.utils.translation import gettext as _

from .formatting import currency_code

LEVELS = ("low", "medium", "high")


def colour(name: str, opacity: float | None = None) -> str:
    """A palette colour by its custom property's name: ``colour("risk-high")``."""
    token = f"var(--{name})"
    return token if opacity is None else f"{token} / {opacity:g}"


RISK = {level: colour(f"risk-{level}") for level in LEVELS}
VALUE = {level: colour(f"value-{level}") for level in LEVELS}
SENTIMENT = {label: colour(f"sentiment-{label}") for label in ("negative", "neutral", "positive")}
# Series that mean nothing but themselves: counts, actual against forecast, model against baseline.
NEUTRAL = colour("series-1")
SERIES = [colour("series-1"), colour("series-2")]


def axis_title(text) -> dict:
    return {"display": True, "text": str(text)}


def money_title(quantity) -> str:
    """An axis title for an amount, with the currency: "Revenue (CNY)"."""
    return _("%(quantity)s (%(currency)s)") % {"quantity": quantity, "currency": currency_code()}


def chart(kind: str, labels, datasets: list[dict], *, x_title=None, y_title=None, **options) -> dict:
    """A Chart.js configuration; datasets without colours take the neutral series' in turn."""
    for i, dataset in enumerate(datasets):
        dataset["label"] = str(dataset.get("label", ""))
        dataset.setdefault("backgroundColor", SERIES[i % len(SERIES)])
        dataset.setdefault("borderColor", dataset["backgroundColor"])
    for axis, title in (("x", x_title), ("y", y_title)):
        if title is not None:
            options.setdefault("scales", {}).setdefault(axis, {})["title"] = axis_title(title)
    return {"type": kind, "data": {"labels": [str(label) for label in labels], "datasets": datasets},
            "options": options}


def choice_labels(choices, keys) -> list[str]:
    """The display labels of ``keys`` in a Django ``choices`` list (unknown keys as they are)."""
    names = dict(choices)
    return [str(names.get(k, k)) for k in keys]
