"""Feedback analysis: language, sentiment and complaint reasons, once per record."""
from __future__ import annotations

import json

import pandas as pd
from django.conf import settings

from analytics import adapter
from analytics.engine.feedback import analyse_feedback
from customers.models import Feedback


def feedback_analyse_pending(*, feedback_ids: list[int] | None = None) -> int:
    """Fill language, sentiment and complaint reasons on feedback not analysed yet.

    These depend on the record alone, so each record is analysed once, when it arrives (or by
    the first run after a bulk load), never again.
    """
    pending = Feedback.objects.filter(sentiment_score__isnull=True).exclude(text="")
    if feedback_ids is not None:
        pending = pending.filter(pk__in=feedback_ids)
    rows = list(pending.values_list("id", "text", "rating"))
    if not rows:
        return 0
    frame = pd.DataFrame(rows, columns=["feedback_id", "text", "rating"])
    analysed = analyse_feedback(frame, max_chars=settings.FEEDBACK_ANALYSIS_MAX_CHARS,
                                piece_chars=settings.FEEDBACK_ANALYSIS_PIECE_CHARS)
    analysed["sentiment_score"] = analysed["sentiment_score"].clip(-1, 1)
    for column in ("language", "sentiment_label", "complaint_reason"):
        analysed[column] = analysed[column].fillna("")
    # The adapter takes JSON columns as JSON text (it COPYs them on PostgreSQL).
    analysed["complaint_reasons"] = analysed["complaint_reasons"].map(json.dumps)
    return adapter.write_rows(Feedback, analysed[["language", "sentiment_score", "sentiment_label",
                                                  "complaint_reason", "complaint_reasons"]])
