"""Template helpers for the staff pages: masking, percentages, translated analytics labels and
model cards laid out against their baselines."""
from __future__ import annotations

from django import template
from django.utils.translation import gettext_lazy as _

register = template.Library()

METRIC_LABELS = {
    "roc_auc": _("ROC AUC (higher is better)"),
    "pr_auc": _("PR AUC (higher is better)"),
    "top_decile_lift": _("Top-decile lift (higher is better)"),
    "brier": _("Brier score (lower is better)"),
    "silhouette": _("Silhouette (higher is better)"),
    "hit_rate": _("Hit rate (higher is better)"),
    "hit_rate_at_10": _("Hit rate at 10 (higher is better)"),
    "mape": _("MAPE (lower is better)"),
    # Realised accuracy (analytics "How did we do?")
    "baseline_roc_auc": _("ROC AUC of days since the last order (baseline)"),
    "baseline_brier": _("Brier score of the average probability (baseline)"),
    "calibration_error": _("Calibration error (lower is better)"),
    "churn_rate": _("Share that churned"),
    "actual_to_predicted": _("Actual / predicted (1 is right)"),
    "spearman": _("Rank correlation (higher is better)"),
    "mean_absolute_error": _("Mean absolute error per customer (lower is better)"),
}
LOWER_IS_BETTER = {"brier", "mape"}


@register.filter
def pct(value, digits: int = 0) -> str:
    """0.723 -> "72 %"; empty for None."""
    if value is None or value == "":
        return ""
    return f"{float(value) * 100:.{int(digits)}f} %"


@register.filter
def signed(value) -> str:
    """A percent change with its sign: +4.2 %, −3.0 %."""
    if value is None:
        return ""
    return f"{'+' if value >= 0 else '−'}{abs(value):.1f} %"


@register.filter
def card_metrics(card: dict) -> list[dict]:
    """Rows of (metric, model value, baseline value, better?) for a model card."""
    rows = []
    for key, value in card.items():
        if key.startswith("baseline_") or not isinstance(value, (int, float)) or isinstance(value, bool):
            continue
        baseline = card.get(f"baseline_{key}")
        better = None
        if isinstance(baseline, (int, float)):
            better = value < baseline if key in LOWER_IS_BETTER else value > baseline
        rows.append({"key": key, "label": METRIC_LABELS.get(key, key.replace("_", " ")),
                     "value": value, "baseline": baseline, "better": better})
    return rows


@register.filter
def card_details(card: dict) -> list[tuple[str, object]]:
    """The non-metric parts of a card (parameters, fitted sub-models), flattened one level."""
    rows = []
    for key, value in card.items():
        if isinstance(value, dict):
            rows.extend((f"{key}.{k}", v) for k, v in value.items())
    return rows


@register.filter
def metric_label(key: str) -> str:
    return str(METRIC_LABELS.get(key, key.replace("_", " ")))


@register.filter
def get_item(mapping, key):
    return mapping.get(key) if hasattr(mapping, "get") else None


@register.filter
def number(value, digits: int = 2) -> str:
    if value is None:
        return "—"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return f"{int(value):,}"  # a count stored as a float ("k 3", never "k 3.000")
    if isinstance(value, float):
        return f"{value:,.{int(digits)}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


@register.filter
def get_field_label(form, name: str) -> str:
    field = form.fields.get(name)
    return str(field.label) if field is not None and field.label else name


@register.filter
def active_filters(form) -> int:
    """How many of a filter form's fields the request sets (the sort order is no filter): the
    customer list opens its filter panel on a phone when there are any."""
    if not form.is_bound:
        return 0
    return sum(1 for name in form.fields if name != "sort" and any(v.strip() for v in form.data.getlist(name, [])))


@register.filter
def level_label(value: str) -> str:
    """"high" -> the translated "High" of the Level choices."""
    from customers.models import Level

    return str(dict(Level.choices).get(value, value))
