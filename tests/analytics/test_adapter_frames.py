"""What the engine's frames read from the database (analytics.adapter.read_frames)."""
from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest

from analytics import adapter
from analytics.engine.feedback import satisfaction_groups
from customers.models import Feedback
from tests.factories import CustomerFactory, FeedbackFactory

AS_OF = pd.Timestamp("2026-10-01")


@pytest.mark.django_db
def test_feedback_text_is_read_only_where_it_was_never_analysed():
    """The engine scores a text only when nobody has (satisfaction's fallback); an analysed
    text's stored score stands for it, so its text is not carried through the run, and the
    customers' sentiment is what it is with every text read."""
    when = datetime(2026, 9, 1, tzinfo=UTC)
    analysed = FeedbackFactory(created_at=when, rating=5, text="Great shop, fast delivery")
    pending = FeedbackFactory(created_at=when, rating=1, text="Awful: the parcel arrived broken")
    Feedback.objects.filter(pk=analysed.pk).update(sentiment_score=0.8)
    Feedback.objects.filter(pk=pending.pk).update(sentiment_score=None)
    FeedbackFactory(customer=CustomerFactory(), created_at=when, rating=3, text="")

    frame = adapter.read_frames(AS_OF, without=("orders", "items", "interactions")).feedback
    texts = frame.set_index("feedback_id")["text"]
    assert texts[analysed.pk] == "" and texts[pending.pk] == pending.text

    every_text = frame.assign(text=frame["feedback_id"].map(
        dict(Feedback.objects.values_list("pk", "text"))))
    read, whole = (satisfaction_groups(f, as_of=AS_OF).customers for f in (frame, every_text))
    pd.testing.assert_frame_equal(read, whole)
    assert read.loc[pending.customer_id, "sentiment_score"] < 0 < read.loc[analysed.customer_id,
                                                                           "sentiment_score"]
