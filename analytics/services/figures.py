"""Figures a run draws once and stores, so no page computes them on a visit: the word clouds.

Each is a :class:`~analytics.models.ModelArtifact` of the run holding the PNG bytes as they are
served. The run's write deletes the previous runs' artifacts in the same transaction that makes
its scores visible, so a page shows the clouds of the latest successful run; a run that fails
leaves the previous clouds in place.
"""
from __future__ import annotations

import logging
import time

import pandas as pd

from analytics.engine.feedback import keywords_by_language, render_wordcloud
from analytics.models import ModelArtifact
from customers.models import Feedback

logger = logging.getLogger(__name__)

WORDCLOUD_LANGUAGES = ("en", "zh")
# Feedback texts read per word cloud: the most recent ones tell what customers say now.
WORDCLOUD_TEXTS = 5000
# The size the feedback page shows them at (templates/analytics/feedback.html).
WORDCLOUD_WIDTH, WORDCLOUD_HEIGHT = 700, 350


def wordcloud_artifact_name(language: str) -> str:
    return f"wordcloud_{language}"


def wordcloud_render(language: str) -> bytes:
    """The PNG of the recent feedback's top terms in ``language``; empty when it has none."""
    rows = list(Feedback.objects.exclude(text="").filter(language=language)
                .order_by("-created_at", "-id").values_list("text", "language")[:WORDCLOUD_TEXTS])
    if not rows:
        return b""
    terms = keywords_by_language(pd.DataFrame(rows, columns=["text", "language"])).get(language)
    if terms is None or not len(terms):
        return b""
    return render_wordcloud(terms.to_dict(), width=WORDCLOUD_WIDTH, height=WORDCLOUD_HEIGHT).png


def wordclouds_store(*, run_id: int, timings: dict) -> int:
    """Draw the word cloud of each language with feedback and store it on the run; returns how
    many were stored. A failure costs the figures, never the run: it is logged, and the page
    says that the next run draws them."""
    started = time.perf_counter()
    stored = 0
    for language in WORDCLOUD_LANGUAGES:
        try:
            png = wordcloud_render(language)
        except Exception:  # noqa: BLE001 - logged; the page shows no cloud rather than no run
            logger.exception("word cloud %s of run %s", language, run_id)
            continue
        if png:
            ModelArtifact.objects.update_or_create(
                run_id=run_id, name=wordcloud_artifact_name(language), defaults={"payload": png})
            stored += 1
    timings["wordclouds"] = round(time.perf_counter() - started, 3)
    return stored
