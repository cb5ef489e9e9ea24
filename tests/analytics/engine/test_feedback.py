"""Feedback text analytics: language, sign of polarity, complaint reasons, keywords, word clouds,
satisfaction groups. The Chinese tests pay SnowNLP's one-off import (5-12 s) once per session."""
from __future__ import annotations

import io
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from analytics.engine import feedback
from analytics.engine.feedback import (
    CJK_FONT_PATH,
    analyse_feedback,
    analyse_text,
    complaint_reason,
    detect_language,
    keywords_by_language,
    render_wordcloud,
    satisfaction_groups,
    sentiment_label,
    sentiment_rating_agreement,
    top_terms,
)

FEEDBACK_COLUMNS = [
    "feedback_id", "customer_id", "created_at", "rating", "text", "language",
    "sentiment_score", "complaint_reason",
]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Great service, thank you!", "en"),
        ("这个产品质量太差了", "zh"),
        ("我喜欢iPhone", "zh"),  # three characters outweigh six Latin letters
        ("I bought it on 双十一 and it broke", "en"),
        ("", ""),
        ("   \n", ""),
        ("12345 !!!", ""),
    ],
)
def test_detect_language(text, language):
    assert detect_language(text) == language


@pytest.mark.parametrize(
    ("text", "sign"),
    [
        ("I love it, the best purchase I have made this year. Excellent!", 1),
        ("Terrible experience, the worst shop ever. Awful support.", -1),
        ("非常满意，服务很好，下次还会再来", 1),
        ("太失望了，质量很差，再也不买了", -1),
    ],
)
def test_polarity_sign(text, sign):
    result = analyse_text(text)
    assert -1.0 <= result.polarity <= 1.0
    assert np.sign(result.polarity) == sign
    assert result.sentiment_label == ("positive" if sign > 0 else "negative")
    assert result.language == detect_language(text)


def test_labels_and_empty_text():
    assert sentiment_label(0.0) == "neutral"
    assert sentiment_label(0.5) == "positive"
    assert sentiment_label(-0.5) == "negative"
    assert sentiment_label(float("nan")) == ""
    empty = analyse_text("", rating=1.0)
    assert empty.language == "" and math.isnan(empty.polarity)
    assert empty.complaint_reason == "other"  # a 1-star rating is a complaint even without words


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("Way too expensive for what it is, overpriced.", "price"),
        ("The staff were rude and customer support ignored my emails.", "service"),
        ("It arrived broken, clearly defective and poorly made.", "product quality"),
        ("My parcel was delayed twice and the courier lost it.", "delivery"),
        ("价格太贵了，不值这个钱", "price"),
        ("客服态度很差，没人理", "service"),
        ("质量太差，用了两天就坏了", "product quality"),
        ("快递太慢了，包裹一周才送达", "delivery"),
        ("Just not for me.", "other"),
    ],
)
def test_complaint_lexicon_both_languages(text, reason):
    assert complaint_reason(text) == reason


def test_reason_only_for_negative_or_low_rated():
    positive_price = analyse_text("Great price, I love it!", rating=5.0)
    assert positive_price.sentiment_label == "positive" and positive_price.complaint_reason == ""
    low_rated = analyse_text("Great price, I love it!", rating=2.0)
    assert low_rated.complaint_reason in {"price", "other"}
    assert low_rated.complaint_reasons[0] == low_rated.complaint_reason


LATE_AND_DAMAGED = "The delivery was late and the box damaged."


def test_analyse_feedback_frame():
    feedback = pd.DataFrame(
        [
            (1, 10, pd.Timestamp("2024-01-01"), 1.0, LATE_AND_DAMAGED, "", np.nan, ""),
            (2, 11, pd.Timestamp("2024-01-02"), 5.0, "Excellent, wonderful service.", "", np.nan, ""),
            (3, 12, pd.Timestamp("2024-01-03"), np.nan, "", "", np.nan, ""),
            (4, 13, pd.Timestamp("2024-01-04"), 5.0, LATE_AND_DAMAGED, "", np.nan, ""),
        ],
        columns=FEEDBACK_COLUMNS,
    )
    out = analyse_feedback(feedback)
    assert list(out.index) == [1, 2, 3, 4]
    assert list(out.columns) == ["language", "sentiment_score", "sentiment_label", "complaint_reason",
                                 "complaint_reasons"]
    assert out.loc[1, "complaint_reason"] == "delivery"
    assert out.loc[1, "complaint_reasons"][0] == "delivery"
    assert set(out.loc[1, "complaint_reasons"]) <= {"delivery", "product quality"}
    assert out.loc[2, "sentiment_label"] == "positive" and out.loc[2, "complaint_reason"] == ""
    assert out.loc[2, "complaint_reasons"] == [] and out.loc[3, "complaint_reasons"] == []
    assert out.loc[4, "complaint_reasons"] == out.loc[1, "complaint_reasons"]  # negative text, 5 stars
    assert out.loc[3, "language"] == "" and math.isnan(out.loc[3, "sentiment_score"])
    assert out.loc[4, "sentiment_score"] == out.loc[1, "sentiment_score"]
    assert analyse_feedback(feedback.iloc[:0]).empty


def test_sentiment_agreement_card_beats_majority_rating():
    texts = [
        (5.0, "Excellent, I love it, wonderful quality."), (5.0, "Great value and a fantastic shop."),
        (4.0, "Very good, happy with it."), (1.0, "Terrible, broken on arrival, awful."),
        (2.0, "Bad experience, the worst support."), (1.0, "质量太差了，非常失望"),
        (5.0, "非常满意，服务很好"), (3.0, "It is a phone."),
    ]
    feedback = pd.DataFrame(
        [(i + 1, i + 1, pd.Timestamp("2024-01-01"), r, t, "", np.nan, "") for i, (r, t) in enumerate(texts)],
        columns=FEEDBACK_COLUMNS,
    )
    card = sentiment_rating_agreement(feedback, analyse_feedback(feedback))
    assert card.metrics["rated_texts"] == 8
    assert card.metrics["accuracy"] == 1.0
    assert card.baseline["accuracy"] == pytest.approx(4 / 8)


def test_top_terms_per_language():
    english = top_terms(
        ["Delivery was slow and the delivery guy was rude.", "Slow delivery again!", "The product is fine"],
        language="en",
    )
    assert english.index[0] == "delivery" and english.iloc[0] == 3
    assert english["slow"] == 2
    assert not {"the", "was", "and", "product"} & set(english.index)

    chinese = top_terms(["快递太慢了，服务态度也不好", "快递很快，包装不错"], language="zh")
    assert chinese.index[0] == "快递" and chinese.iloc[0] == 2
    assert not {"了", "也", "很"} & set(chinese.index)

    frame = pd.DataFrame({"text": ["slow delivery", "快递太慢了"], "language": ["", "zh"]})
    by_language = keywords_by_language(frame)
    assert set(by_language) == {"en", "zh"}
    assert "delivery" in by_language["en"].index and "快递" in by_language["zh"].index


def test_wordcloud_renders_png_with_cjk_font():
    result = render_wordcloud({"快递": 9, "质量": 6, "delivery": 5, "price": 3}, width=300, height=150)
    assert result.png.startswith(PNG_MAGIC)
    assert Image.open(io.BytesIO(result.png)).size == (300, 150)
    assert result.cjk_font == CJK_FONT_PATH.exists()
    if result.cjk_font:
        assert result.dropped_terms == 0 and result.note == ""


def test_wordcloud_falls_back_clearly_without_cjk_font(tmp_path):
    missing = tmp_path / "no-such-font.ttc"
    result = render_wordcloud({"快递": 9, "delivery": 5}, width=200, height=100, font_path=missing)
    assert result.png.startswith(PNG_MAGIC)
    assert result.cjk_font is False and result.dropped_terms == 1
    assert "not found" in result.note
    nothing = render_wordcloud({"快递": 9}, font_path=missing)
    assert nothing.png == b"" and "No terms" in nothing.note


def _constructed_feedback(seed: int = 0, per_group: int = 20) -> pd.DataFrame:
    """Three clean groups of customers: 5 stars and warm words, 3 stars and flat ones, 1 star and anger."""
    rng = np.random.default_rng(seed)
    rows = []
    profiles = {"satisfied": (4.8, 0.7), "neutral": (3.0, 0.0), "dissatisfied": (1.3, -0.7)}
    customer_id = 0
    for rating, sentiment in profiles.values():
        for _ in range(per_group):
            customer_id += 1
            for _ in range(3):
                rows.append((
                    len(rows) + 1, customer_id, pd.Timestamp("2024-02-01"),
                    float(np.clip(rating + rng.normal(0, 0.3), 1, 5)), "text",
                    "en", float(np.clip(sentiment + rng.normal(0, 0.15), -1, 1)), "",
                ))
    return pd.DataFrame(rows, columns=FEEDBACK_COLUMNS)


def test_satisfaction_groups_ordered_by_centre():
    feedback = _constructed_feedback()
    result = satisfaction_groups(feedback, as_of=pd.Timestamp("2024-03-01"), seed=0)
    customers = result.customers
    assert len(customers) == 60
    expected = pd.Series(
        ["satisfied"] * 20 + ["neutral"] * 20 + ["dissatisfied"] * 20, index=range(1, 61)
    )
    assert (customers["satisfaction_group"].sort_index().to_numpy() == expected.to_numpy()).all()
    means = customers.groupby("satisfaction_group")[["mean_rating", "sentiment_score"]].mean()
    assert means.loc["satisfied", "mean_rating"] > means.loc["neutral", "mean_rating"] > means.loc[
        "dissatisfied", "mean_rating"]
    assert result.card.metrics["silhouette"] > 0.5
    assert result.card.metrics["silhouette"] >= result.card.baseline["silhouette"] - 1e-9
    again = satisfaction_groups(feedback, as_of=pd.Timestamp("2024-03-01"), seed=0)
    pd.testing.assert_frame_equal(customers, again.customers)


def test_satisfaction_respects_as_of_and_analyses_missing_scores():
    feedback = _constructed_feedback(per_group=5)
    late = pd.DataFrame(
        [(999, 999, pd.Timestamp("2024-06-01"), 1.0, "awful", "en", -1.0, "")], columns=FEEDBACK_COLUMNS
    )
    unscored = pd.DataFrame(
        [(1000, 500, pd.Timestamp("2024-01-15"), np.nan, "Absolutely wonderful, I love it!", "", np.nan, "")],
        columns=FEEDBACK_COLUMNS,
    )
    result = satisfaction_groups(pd.concat([feedback, late, unscored]), as_of=pd.Timestamp("2024-03-01"))
    assert 999 not in result.customers.index
    assert result.customers.loc[500, "sentiment_score"] > 0.5  # analysed on the fly with TextBlob
    assert result.customers.loc[500, "satisfaction_group"] == "satisfied"


def test_satisfaction_with_too_few_customers():
    tiny = pd.DataFrame(
        [(1, 1, pd.Timestamp("2024-01-01"), 5.0, "", "", 0.9, ""),
         (2, 2, pd.Timestamp("2024-01-01"), 1.0, "", "", -0.9, "")],
        columns=FEEDBACK_COLUMNS,
    )
    result = satisfaction_groups(tiny, as_of=pd.Timestamp("2024-02-01"))
    assert result.customers["satisfaction_group"].to_dict() == {1: "satisfied", 2: "dissatisfied"}
    assert result.card.metrics == {}
    empty = satisfaction_groups(tiny.iloc[:0], as_of=pd.Timestamp("2024-02-01"))
    assert empty.customers.empty


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 60), groups=st.lists(st.integers(1, 5), min_size=1, max_size=3), seed=st.integers(0, 5))
def test_satisfaction_silhouettes_are_scikit_learns_from_the_features(n, groups, seed):
    """Every labelling is scored on one sample from one distance matrix: each silhouette is the
    one scikit-learn gives from the sampled features, NaN where a labelling has one group or as
    many groups as points, also past the sample size."""
    from sklearn.metrics import silhouette_score

    rng = np.random.default_rng(seed)
    features = rng.normal(size=(n, 2))
    labellings = [rng.integers(0, k, size=n) for k in groups]
    sample = (np.random.default_rng(seed).choice(n, size=40, replace=False) if n > 40 else np.arange(n))
    expected = []
    for labels in labellings:
        distinct, sampled = len(set(labels)), labels[sample]
        if distinct < 2 or distinct >= n or len(set(sampled)) < 2:
            expected.append(None)
        else:
            expected.append(float(silhouette_score(features[sample], sampled)))
    got = feedback._silhouettes(features, *labellings, seed=seed, sample_size=40)
    assert [None if np.isnan(g) else g for g in got] == expected
