"""Reads for the analytics pages. Results come from the latest successful full run (each result
row keeps its run id); customer figures come from the score fields. A fixed number of queries
per page, whatever the number of customers."""
from __future__ import annotations

import math
from collections import Counter

from django.core.cache import cache
from django.db.models import Avg, Count, F, Q, Sum
from django.db.models.functions import Mod
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from customers.models import ComplaintReason, Customer, Feedback, Product, RfmSegment

from .models import (
    AssociationRule,
    ModelArtifact,
    RealisedAccuracy,
    RevenueForecast,
    ScoreRun,
    SegmentProfile,
)
from .services.figures import WORDCLOUD_LANGUAGES, wordcloud_artifact_name

# Plain-language playbook per RFM segment (after the usual RFM segment guides, e.g. Putler's
# "RFM analysis for successful customer segmentation").
RFM_STRATEGIES = {
    "Champions": gettext_lazy("Reward them: early access, loyalty perks, ask for reviews and referrals."),
    "Loyal Customers": gettext_lazy("Upsell higher-value products and enrol them in the loyalty programme."),
    "Potential Loyalists": gettext_lazy("Offer membership or a loyalty programme; recommend related products."),
    "New Customers": gettext_lazy("Onboard them well: a welcome series and a reason for the second order."),
    "Promising": gettext_lazy("Build awareness: free trials, samples, a small first-repeat incentive."),
    "Need Attention": gettext_lazy("Time-limited offers based on their past purchases."),
    "About to Sleep": gettext_lazy("Share popular products and a modest discount to reconnect."),
    "At Risk": gettext_lazy("Personal win-back: a call or email, renewals, helpful resources."),
    "Can't Lose Them": gettext_lazy("Win them back with a strong offer; talk to them and ask what went wrong."),
    "Hibernating": gettext_lazy("Low-cost reactivation; otherwise do not spend much on them."),
}
# Customers sampled for the p_alive vs frequency scatter: enough to see the shape, small enough
# for the browser to draw quickly.
SCATTER_SAMPLE = 600
# Rows fetched per round trip while looking for complaint examples: the newest few hundred
# negative texts nearly always fill every group.
EXAMPLE_CHUNK = 200
CACHE_SECONDS = 3600


def latest_run() -> ScoreRun | None:
    return ScoreRun.objects.filter(kind=ScoreRun.Kind.FULL, status=ScoreRun.Status.SUCCEEDED).first()


def latest_forecast() -> list[RevenueForecast]:
    run = latest_run()
    return list(RevenueForecast.objects.filter(run=run)) if run else []


def segment_profiles(run: ScoreRun | None) -> list[SegmentProfile]:
    return list(SegmentProfile.objects.filter(run=run)) if run else []


# The R x F grid's shades: 0 for an empty cell, then 1-4 by quarters of the largest cell. Four
# steps, each with a text colour that reads on it (--heat-N in static/css/crm.css), where a
# continuous shade would pass through tones on which neither white nor dark text is legible.
HEAT_STEPS = 4


def rfm_grid() -> dict:
    """Customers per (R, F) score, as rows R=5..1 by columns F=1..5, with the largest cell."""
    cells = {(r, f): n for r, f, n in Customer.objects.live().filter(rfm_r__isnull=False, rfm_f__isnull=False)
             .values_list("rfm_r", "rfm_f").annotate(n=Count("id")).values_list("rfm_r", "rfm_f", "n")}
    top = max(cells.values(), default=0)

    def heat(n: int) -> int:
        return math.ceil(HEAT_STEPS * n / top) if top and n else 0

    rows = [{"r": r, "cells": [{"f": f, "n": cells.get((r, f), 0), "heat": heat(cells.get((r, f), 0))}
                               for f in range(1, 6)]} for r in range(5, 0, -1)]
    return {"rows": rows, "max": top}


def rfm_segment_summary() -> list[dict]:
    """Per RFM segment: customers, mean CLV, mean churn probability, and what to do."""
    rows = {row["rfm_segment"]: row for row in Customer.objects.live().filter(rfm_segment__isnull=False)
            .values("rfm_segment").annotate(n=Count("id"), clv=Avg("clv_12m"), churn=Avg("churn_probability"),
                                            spent=Sum("total_spent"))}
    return [{"key": seg.value, "label": seg.label, "strategy": RFM_STRATEGIES[seg.value], **rows[seg.value]}
            for seg in RfmSegment if seg.value in rows]


def top_churn_reasons(run: ScoreRun | None, *, limit: int = 10) -> list[tuple[str, int]]:
    """What pushes risk up most often for customers at medium or high risk: (feature key,
    customers). Counted from the stored reasons in one streamed query, cached per run."""
    key = f"analytics:churn-reasons:{run.pk if run else 0}"
    cached = cache.get(key)
    if cached is not None:
        return cached
    counter: Counter = Counter()
    reasons = (Customer.objects.live().filter(churn_risk__in=["high", "medium"])
               .exclude(churn_reasons__isnull=True).values_list("churn_reasons", flat=True))
    for customer_reasons in reasons.iterator(chunk_size=5000):
        for reason in customer_reasons or []:
            if reason.get("direction") == "up":
                counter[reason.get("feature", "")] += 1
    result = counter.most_common(limit)
    cache.set(key, result, CACHE_SECONDS)
    return result


# Tiers read from the bottom up, as a table of levels should (alphabetical put High first,
# then Low, then Medium).
TIER_ORDER = {"low": 0, "medium": 1, "high": 2}


def value_tiers() -> list[dict]:
    rows = list(Customer.objects.live().filter(value_tier__isnull=False).values("value_tier")
                .annotate(n=Count("id"), clv=Sum("clv_12m"), mean_clv=Avg("clv_12m"))
                .order_by())
    return sorted(rows, key=lambda row: TIER_ORDER.get(row["value_tier"], len(TIER_ORDER)))


def alive_frequency_sample(size: int = SCATTER_SAMPLE) -> list[dict]:
    """Every k-th scored customer by id (deterministic, no ORDER BY RANDOM on a large table)."""
    scored = Customer.objects.live().filter(p_alive__isnull=False, order_count__isnull=False)
    total = scored.count()
    step = max(1, total // size)
    sample = scored.annotate(slot=Mod(F("id"), step)).filter(slot=0) if step > 1 else scored
    return [{"x": f, "y": round(p, 3)} for f, p in sample.values_list("order_count", "p_alive")[:size]]


def bundle_rules(run: ScoreRun | None, *, product_id: int | None = None, limit: int = 200) -> list[dict]:
    """Association rules of the run with product names, strongest lift first (two queries)."""
    if run is None:
        return []
    rules = list(AssociationRule.objects.filter(run=run).order_by("-lift")
                 .values("antecedents", "consequents", "support", "confidence", "lift"))
    if product_id is not None:
        rules = [r for r in rules if product_id in r["antecedents"] or product_id in r["consequents"]]
    rules = rules[:limit]
    ids = {pid for r in rules for pid in (*r["antecedents"], *r["consequents"])}
    products = Product.objects.in_bulk(ids)
    for rule in rules:
        rule["if_bought"] = [products[p] for p in rule["antecedents"] if p in products]
        rule["then_buy"] = [products[p] for p in rule["consequents"] if p in products]
    return rules


def bundle_products(run: ScoreRun | None) -> list[Product]:
    """Products that appear in any rule of the run, for the filter."""
    if run is None:
        return []
    ids = set()
    for antecedents, consequents in AssociationRule.objects.filter(run=run).values_list("antecedents", "consequents"):
        ids.update(antecedents)
        ids.update(consequents)
    return list(Product.objects.filter(pk__in=ids).order_by("name"))


def complaint_groups(*, examples: int = 3) -> list[dict]:
    """Negative feedback per complaint reason, with the most recent texts as examples, each with
    its customer's id (the page links a quote to the customer).

    A text with several reasons counts in each of them, so the groups can add up to more than
    the negative feedback. Rows analysed before reasons were listed count under their one
    ``complaint_reason``. JSON containment has no portable lookup (SQLite lacks it), so reasons
    are counted here from two narrow columns, and examples are read newest first until every
    group has its share.
    """
    negative = Feedback.objects.filter(sentiment_label="negative")

    def reasons_of(listed, primary) -> list[str]:
        return list(listed or ([primary] if primary else [""]))

    counts: Counter = Counter()
    for listed, primary in negative.values_list("complaint_reasons", "complaint_reason").iterator():
        counts.update(reasons_of(listed, primary))
    samples: dict[str, list[dict]] = {reason: [] for reason in counts}
    missing = sum(min(n, examples) for n in counts.values())
    rows = negative.order_by("-created_at", "-id").values_list(
        "text", "customer_id", "complaint_reasons", "complaint_reason")
    for text, customer_id, listed, primary in rows.iterator(chunk_size=EXAMPLE_CHUNK):
        if missing <= 0:
            break
        for reason in reasons_of(listed, primary):
            if len(samples[reason]) < examples:
                samples[reason].append({"text": text, "customer_id": customer_id})
                missing -= 1
    labels = dict(ComplaintReason.choices)
    return [{"reason": reason, "label": labels.get(reason, _("Not classified")), "n": n,
             "examples": samples[reason]}
            for reason, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]


def feedback_summary() -> dict:
    return Feedback.objects.aggregate(
        total=Count("id"), analysed=Count("id", filter=Q(sentiment_score__isnull=False)),
        negative=Count("id", filter=Q(sentiment_label="negative")),
        positive=Count("id", filter=Q(sentiment_label="positive")), mean=Avg("sentiment_score"))


def wordcloud_png(language: str) -> bytes | None:
    """The word cloud of ``language`` ("en" or "zh") drawn by the latest successful full run
    (:mod:`analytics.services.figures`); None when no run has drawn one yet. One query."""
    payload = (ModelArtifact.objects.filter(name=wordcloud_artifact_name(language), run__kind=ScoreRun.Kind.FULL,
                                            run__status=ScoreRun.Status.SUCCEEDED)
               .order_by("-run__created_at", "-run_id").values_list("payload", flat=True).first())
    return bytes(payload) if payload else None


def wordclouds_stored() -> set[str]:
    """Languages whose word cloud the latest successful full run drew (payloads not read)."""
    run = latest_run()
    if run is None:
        return set()
    names = {wordcloud_artifact_name(language): language for language in WORDCLOUD_LANGUAGES}
    return {names[name] for name in ModelArtifact.objects.filter(run=run, name__in=names)
            .values_list("name", flat=True)}


def score_runs(limit: int = 30) -> list[ScoreRun]:
    # An abandoned run reads as failed, with the reason, before the beat's sweep records it.
    return list(ScoreRun.objects.with_effective_status().select_related("requested_by")[:limit])


def feedback_languages() -> dict[str, int]:
    """Feedback texts per detected language, so a word cloud is only offered when it has words."""
    return dict(Feedback.objects.exclude(text="").exclude(language="").values_list("language")
                .annotate(n=Count("id")).values_list("language", "n"))


def realised_rows(model: str) -> list[RealisedAccuracy]:
    """Every scored run of ``model``, oldest first."""
    return list(RealisedAccuracy.objects.filter(model=model).select_related("run").order_by("run__as_of", "id"))


def realised_drifting() -> list[RealisedAccuracy]:
    """The models whose most recently scored run drifted (what the dashboard warns about)."""
    latest: dict[str, RealisedAccuracy] = {}
    for row in RealisedAccuracy.objects.select_related("run").order_by("run__as_of", "id"):
        latest[row.model] = row
    return [row for row in latest.values() if row.drift]
