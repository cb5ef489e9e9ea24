"""Readable, translated names and notes for the model cards the engine writes.

The engine (analytics/engine/, no Django) names its models with codes
(``churn_hist_gradient_boosting_calibrated``) and writes its notes in English; the pages show
these labels instead. A code or note not listed here is shown as written, and
tests/analytics/test_cards.py fails when an engine note has no entry here.
"""
from __future__ import annotations

import re

from django.utils.translation import gettext, gettext_noop

from customers.models import SatisfactionGroup

MODEL_NAMES = {
    "churn_hist_gradient_boosting_calibrated": gettext_noop("Gradient boosting (calibrated)"),
    "churn_logistic_regression_calibrated": gettext_noop("Logistic regression (calibrated)"),
    "clv_bgnbd_gamma_gamma": gettext_noop("BG/NBD and Gamma-Gamma"),
    "bundles.association_rules": gettext_noop("Association rules"),
    "feedback.sentiment": gettext_noop("Sentiment of feedback"),
    "feedback.satisfaction_groups": gettext_noop("Satisfaction groups"),
    "feedback.complaint_reasons": gettext_noop("Complaint reasons"),
    "forecast.revenue": gettext_noop("Revenue forecast"),
    "loyalty_complement_of_churn": gettext_noop("Loyalty as the complement of churn"),
    "loyalty_random_forest_calibrated": gettext_noop("Random forest (calibrated)"),
    "item_knn_with_means": gettext_noop("Item-based nearest neighbours"),
    "kmeans_rfm_segments": gettext_noop("K-means on RFM"),
    # Uplift candidates (analytics/engine/uplift.py _candidates).
    "two_models": gettext_noop("Two models (gradient boosting)"),
    "two_models_ddr": gettext_noop("Two dependent models (gradient boosting)"),
    "class_transformation": gettext_noop("Class transformation (gradient boosting)"),
    "two_models_linear": gettext_noop("Two models (logistic regression)"),
}

NOTES = {note: note for note in (
    gettext_noop("Gamma-Gamma q <= 1 (no finite mean); used the mean purchase value instead."),
    gettext_noop("One-vs-rest logistic regression on word + character TF-IDF, trained on the shipped "
                 "corpus; macro-F1 on held-out labelled texts (complaints: four reasons + other; _all: "
                 "every text, four reasons). Baseline = the keyword lexicon."),
    gettext_noop("Leave-one-out on held-out baskets; baseline = most popular item not in the basket."),
    gettext_noop("baseline: recency rank (AUC, PR-AUC, lift); churn rate by recency decile (Brier)"),
    gettext_noop("baseline: the training churn rate for everyone (no orders to rank by recency)"),
    gettext_noop("held out: each customer's last basket; baseline: most-bought products not yet bought"),
    gettext_noop("Label vs rating class; baseline = most common rating class."),
    gettext_noop("Held-out customers assigned to the nearest training centre; baseline = terciles of "
                 "the combined rating+sentiment score."),
    gettext_noop("No rated feedback with text."),
    gettext_noop("Fewer distinct customers than groups: fixed score thresholds, no k-means."),
    gettext_noop("Too few customers to hold some out; no held-out metrics."),
    gettext_noop("No rated or analysed feedback before as_of."),
    gettext_noop("baseline: order count so far (rank for AUC; repeat rate by frequency bin for Brier)"),
    gettext_noop("1 - churn probability: the same event over the same 90 days; baseline as churn's"),
    gettext_noop("Holdout MAPE over months with revenue; baseline = seasonal naive for the seasonal model, "
                 "last value otherwise. Intervals: closed-form ETS(A,*,*) prediction intervals."),
    gettext_noop("History too short to hold months out; no backtest."),
    gettext_noop("No complete month of orders before as_of."),
    gettext_noop("baseline: three groups by spend tertile, silhouette on the same log1p-standardised RFM"),
)}

# The CLV card's note names the baseline's training share and may end with the spend model's note.
_CLV_NOTE = re.compile(
    r"^BG/NBD \+ Gamma-Gamma fitted on calibration only; baseline LinearRegression trained on "
    r"(?P<share>\d+%) of customers' holdout outcomes; all errors on the rest\.(?: (?P<extra>.+))?$")
_CLV_MSG = gettext_noop("BG/NBD + Gamma-Gamma fitted on calibration only; baseline LinearRegression "
                        "trained on %(share)s of customers' holdout outcomes; all errors on the rest.")


def model_name(code: str) -> str:
    """``churn_hist_gradient_boosting_calibrated`` -> "Gradient boosting (calibrated)"."""
    label = MODEL_NAMES.get(code)
    return gettext(label) if label else code


def card_note(note: str) -> str:
    """An engine note in the reader's language; shown as written when it is not listed."""
    if not note:
        return ""
    if note in NOTES:
        return gettext(note)
    match = _CLV_NOTE.match(note)
    if match:
        text = gettext(_CLV_MSG) % {"share": match.group("share")}
        extra = match.group("extra")
        return f"{text} {card_note(extra)}" if extra else text
    return note


# A score run's stages as stored in ScoreRun.stage (analytics/services/runs.py and the engine's
# pipeline STAGES), for the progress bar.
STAGE_LABELS = {
    "feedback": gettext_noop("analysing feedback"),
    "read (customers)": gettext_noop("reading customers"),
    "read (products)": gettext_noop("reading products"),
    "rfm": gettext_noop("RFM scores"),
    "clv": gettext_noop("lifetime value"),
    "segments": gettext_noop("value segments"),
    "churn": gettext_noop("churn model"),
    "loyalty": gettext_noop("loyalty"),
    "lifecycle": gettext_noop("lifecycle stages"),
    "satisfaction": gettext_noop("satisfaction groups"),
    "recommendations": gettext_noop("recommendations"),
    "bundles": gettext_noop("bundles"),
    "forecast": gettext_noop("revenue forecast"),
    "ranking": gettext_noop("ranking customers"),
    "wordclouds": gettext_noop("word clouds"),
    "write": gettext_noop("saving results"),
    "done": gettext_noop("done"),
}


def _label(labels: dict[str, str], key: str) -> str:
    """``key`` in words in the reader's language from ``labels``; an unlisted key as stored."""
    label = labels.get(key or "")
    return gettext(label) if label else (key or "")


def stage_label(stage: str) -> str:
    """``"done"`` -> "done" / "完成"; an unlisted stage as stored."""
    return _label(STAGE_LABELS, stage)


# ScoreRun.timings: the engine's stages (above) and the steps around them
# (analytics/services/runs.py and results.py), for the run page.
TIMING_LABELS = {
    **STAGE_LABELS,
    "read_customers": gettext_noop("reading customers"),
    "read_products": gettext_noop("reading products"),
    "read_baskets": gettext_noop("reading baskets"),
    "store_customers": gettext_noop("storing the customer models"),
    "store_products": gettext_noop("storing the product models"),
    "write_scores": gettext_noop("saving scores"),
    "write_history": gettext_noop("saving the prediction history"),
    "write_recommendations": gettext_noop("saving recommendations"),
    "write_recommendations_ahead": gettext_noop("building recommendations beside the score write"),
    "dashboard": gettext_noop("dashboard figures"),
    "vacuum_analyze": gettext_noop("database maintenance"),
}

# ScoreRun.counts: rows read and written by a run.
COUNT_LABELS = {
    "customers": gettext_noop("customers read"),
    "orders": gettext_noop("orders read"),
    "order_lines": gettext_noop("order lines read"),
    "feedback_analysed": gettext_noop("feedback analysed"),
    "scored": gettext_noop("customers scored"),
    "history": gettext_noop("predictions kept for accuracy"),
    "segments": gettext_noop("value segments"),
    "recommendations": gettext_noop("recommendations"),
    "rules": gettext_noop("bundle rules"),
    "forecast_months": gettext_noop("forecast months"),
}


def timing_label(key: str) -> str:
    """A key of ScoreRun.timings in words; an unlisted key as stored."""
    return _label(TIMING_LABELS, key)


def count_label(key: str) -> str:
    """A key of ScoreRun.counts in words; an unlisted key as stored."""
    return _label(COUNT_LABELS, key)


# The keys of ScoreRun.model_cards, as section titles on the run page.
CARD_TITLES = {
    "churn": gettext_noop("Churn"),
    "clv": gettext_noop("Lifetime value"),
    "segments": gettext_noop("Value segments"),
    "loyalty": gettext_noop("Loyalty"),
    "satisfaction": gettext_noop("Satisfaction groups"),
    "sentiment": gettext_noop("Sentiment of feedback"),
    "complaint_reasons": gettext_noop("Complaint reasons"),
    "recommendations": gettext_noop("Recommendations"),
    "bundles": gettext_noop("Bundles"),
    "forecast": gettext_noop("Revenue forecast"),
}


def card_title(key: str) -> str:
    """A model card's section title: "clv" -> "Lifetime value" (was "Clv" beside "clv_...")."""
    title = CARD_TITLES.get(key)
    if title:
        return gettext(title)
    text = str(key).replace("_", " ")
    return text[:1].upper() + text[1:]


# Customer.satisfaction_group holds the engine's codes (engine/feedback.py SATISFACTION_LABELS),
# with their labels as the field's choices.
SATISFACTION_LABELS = dict(SatisfactionGroup.choices)


def satisfaction_label(code: str) -> str:
    label = SATISFACTION_LABELS.get(code or "")
    return str(label) if label else (code or "")
