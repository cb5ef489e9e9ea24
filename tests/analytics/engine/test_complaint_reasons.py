"""Complaint reasons: the classifier against the keyword lexicon it replaced, on hand-labelled
held-out texts in English and Chinese that neither the training corpus nor the demo generator
contains."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics.engine.complaint_reasons import (
    OTHER_REASON,
    REASONS,
    ReasonClassifier,
    classifier,
    complaint_reason_card,
    complaint_reasons,
    complaint_reasons_many,
    evaluate,
    keyword_reason,
    macro_f1,
    parse_reasons,
    read_labelled,
    training_corpus,
)
from analytics.engine.complaint_reasons import (
    TRAINING_CORPUS as TRAINING_PATH,
)
from customers.demo import generator

DATA = Path(__file__).resolve().parents[2] / "data"
HELDOUT = {language: DATA / f"complaints_{language}.csv" for language in ("en", "zh")}
# Measured when the classifier shipped (macro-F1 on complaints, four reasons + other):
#   English 0.675 vs lexicon 0.444; Chinese 0.631 vs lexicon 0.383.
# The tests hold it to most of that lead, so a change that loses it fails.
MIN_LEAD_OVER_LEXICON = 0.15
MIN_MACRO_F1 = 0.6


def _normalise(text: str) -> str:
    return "".join(text.lower().split()).strip("。.!！")


@pytest.fixture(scope="module")
def heldout():
    return {language: read_labelled(path) for language, path in HELDOUT.items()}


# As observed in the demo data (opener + sentence + closer) and bare. The lexicon filed them
# under price, price, delivery and product quality.
MISFILED = [
    ("非常失望。物流很差，包装也破了。要求退款。", "delivery", set()),
    ("物流很差，包装也破了", "delivery", set()),
    ("很不满意。发邮件一个星期都没人回复。要求退款。", "service", set()),
    ("发邮件一个星期都没人回复", "service", set()),
    # "arrived" still pulls delivery in as a second reason; the main one is right.
    ("Very disappointed. The item was stale when it arrived. I want a refund.", "product quality", {"delivery"}),
    ("the item was stale", "product quality", set()),
    ("My order came late and the box was damaged.", "delivery", {"product quality"}),
    ("came late and the box was damaged", "delivery", {"product quality"}),
]


@pytest.mark.parametrize(("text", "main", "also_allowed"), MISFILED)
def test_the_misfiled_examples_now_get_their_reasons(text, main, also_allowed):
    reasons = complaint_reasons(text)
    assert reasons[0] == main
    assert set(reasons) <= {main} | also_allowed


def test_the_lexicon_misfiled_them():
    """The baseline really did get them wrong: the test above is not trivially true."""
    assert [keyword_reason(text) for text, _, _ in MISFILED[::2]] == [
        "price", "price", "price", "product quality"]
    assert keyword_reason("The item was stale when it arrived.") == "delivery"


def test_a_text_can_have_several_reasons():
    assert set(complaint_reasons("Far too expensive and it broke after one day.")) == {
        "price", "product quality"}
    assert set(complaint_reasons("快递太慢了，客服也不回消息")) == {"delivery", "service"}


@pytest.mark.parametrize("language", ["en", "zh"])
def test_classifier_beats_the_lexicon_on_held_out_texts(heldout, language):
    scores = evaluate(heldout[language])
    assert scores["macro_f1"] >= MIN_MACRO_F1
    assert scores["macro_f1"] - scores["baseline_macro_f1"] >= MIN_LEAD_OVER_LEXICON
    # On every text, praise included, it must also beat every-keyword-hit.
    assert scores["macro_f1_all"] - scores["baseline_macro_f1_all"] >= MIN_LEAD_OVER_LEXICON


def test_card_reports_both_languages_against_the_baseline(heldout):
    card = complaint_reason_card(heldout).as_dict()
    for language in ("en", "zh"):
        assert card[f"macro_f1_{language}"] > card[f"baseline_macro_f1_{language}"]
        assert card[f"heldout_texts_{language}"] == len(heldout[language])
    assert card["params"]["training_texts"] == len(training_corpus())


def test_held_out_sets_are_big_varied_and_unseen(heldout):
    training = {_normalise(t) for t in training_corpus()["text"]}
    demo = {_normalise(t) for pools in (generator.NEGATIVE_TEXT, generator.POSITIVE_TEXT,
                                        generator.NEUTRAL_TEXT)
            for per_language in pools.values()
            for texts in (per_language.values() if isinstance(per_language, dict) else [per_language])
            for t in texts}
    for frame in heldout.values():
        assert len(frame) >= 300
        texts = [_normalise(t) for t in frame["text"]]
        assert len(set(texts)) == len(texts), "duplicate held-out texts"
        assert not set(texts) & training, "held-out text in the training corpus"
        assert not set(texts) & demo, "held-out text from the demo generator"
        labelled = [r for reasons in frame["reasons"] for r in reasons]
        assert set(labelled) == {*REASONS, OTHER_REASON}
        assert sum(len(r) > 1 for r in frame["reasons"]) >= 30, "too few mixed complaints"
        assert sum(len(r) == 0 for r in frame["reasons"]) >= 30, "too few non-complaints"


def test_training_is_deterministic():
    first, second = ReasonClassifier(training_corpus()), ReasonClassifier(training_corpus())
    for a, b in zip(first.model.estimators_, second.model.estimators_):
        np.testing.assert_array_equal(a.coef_, b.coef_)
    texts = ["late again", "价格太贵"]
    np.testing.assert_array_equal(first.predict_proba(texts), classifier().predict_proba(texts))


def test_training_corpus_ships_with_its_provenance():
    head = TRAINING_PATH.read_text(encoding="utf-8").splitlines()[:3]
    assert head[0].startswith("#") and any("Provenance" in line for line in head)


def test_macro_f1_matches_a_hand_count():
    truth = [("price",), ("delivery", "service"), ("service",)]
    predicted = [("price",), ("delivery",), ("price",)]
    # price: P 1/2 R 1 -> 2/3; delivery: 1; service: P 0 R 0 -> 0.
    assert macro_f1(truth, predicted, ["price", "delivery", "service"]) == pytest.approx((2 / 3 + 1 + 0) / 3)


def test_unknown_reasons_are_refused():
    assert parse_reasons("delivery| price ") == ("delivery", "price")
    assert parse_reasons("") == ()
    with pytest.raises(ValueError):
        parse_reasons("shipping")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.text(alphabet=st.sampled_from(list("abcdefghij tlae价格快递质量客服，。!")), max_size=40),
                min_size=1, max_size=5))
def test_every_complaint_gets_known_distinct_reasons_most_probable_first(texts):
    results = complaint_reasons_many(texts)
    assert len(results) == len(texts)
    proba = classifier().predict_proba(texts)
    for text, reasons, row in zip(texts, results, proba):
        assert reasons and len(set(reasons)) == len(reasons)
        if reasons == (OTHER_REASON,):
            continue
        assert set(reasons) <= set(REASONS)
        probabilities = [row[REASONS.index(r)] for r in reasons]
        assert probabilities == sorted(probabilities, reverse=True)
        # Batching changes nothing: one text alone gets the same answer.
        assert complaint_reasons(text) == reasons
