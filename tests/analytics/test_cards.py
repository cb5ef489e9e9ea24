"""Model cards speak the reader's language: names instead of codes, translated notes, and every
note the engine writes has a translation (analytics/cards.py)."""
from __future__ import annotations

import ast
from pathlib import Path

from django.utils import translation

from analytics import cards
from customers.templatetags.crm import number

ENGINE = Path(cards.__file__).resolve().parent / "engine"


def _engine_literals() -> tuple[set[str], set[str]]:
    """The model names and notes the engine writes as plain literals."""
    names, notes = set(), set()
    for path in ENGINE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "ModelCard":
                for keyword in node.keywords:
                    if keyword.arg == "name" and isinstance(keyword.value, ast.Constant):
                        names.add(keyword.value.value)
            if isinstance(node, ast.keyword) and node.arg == "notes" and isinstance(node.value, ast.Constant):
                notes.add(node.value.value)
            if (isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
                    and any(getattr(t, "id", "") in ("notes", "baseline_note", "note") for t in node.targets)):
                notes.add(node.value.value)
    return names, notes - {""}


def test_every_engine_name_and_note_is_listed():
    names, notes = _engine_literals()
    assert names and notes
    assert names - set(cards.MODEL_NAMES) == set()
    assert notes - set(cards.NOTES) == set()


def test_names_and_notes_in_chinese():
    with translation.override("zh-hans"):
        assert cards.model_name("churn_hist_gradient_boosting_calibrated") == "梯度提升（已校准）"
        assert cards.card_note("No rated feedback with text.") == "没有带文字的评分反馈。"
        clv = cards.card_note(
            "BG/NBD + Gamma-Gamma fitted on calibration only; baseline LinearRegression trained on 50% of "
            "customers' holdout outcomes; all errors on the rest. Gamma-Gamma q <= 1 (no finite mean); "
            "used the mean purchase value instead.")
        assert clv.startswith("BG/NBD + Gamma-Gamma 仅在校准期拟合") and "改用平均购买金额" in clv
    with translation.override("en"):
        assert cards.model_name("churn_hist_gradient_boosting_calibrated") == "Gradient boosting (calibrated)"
        assert cards.model_name("something_new") == "something_new"


def test_counts_in_cards_have_no_decimals():
    assert number(3.0, 3) == "3"
    assert number(2158.0, 3) == "2,158"
    assert number(0.8123, 3) == "0.812"


def test_stage_names_titles_and_one_hot_features_in_chinese():
    from analytics.engine.pipeline import STAGES
    from analytics.explain import translate_feature

    assert set(STAGES) <= set(cards.STAGE_LABELS)
    with translation.override("zh-hans"):
        assert cards.stage_label("done") == "完成"
        assert cards.stage_label("clv") == "生命周期价值"
        assert cards.card_title("clv") == "生命周期价值"
        assert translate_feature("channel is erp") == "渠道为ERP"
    with translation.override("en"):
        assert cards.card_title("clv") == "Lifetime value"
        assert translate_feature("channel is erp") == "channel is ERP"


def test_satisfaction_groups_are_labelled():
    from analytics.engine.feedback import SATISFACTION_LABELS

    assert set(SATISFACTION_LABELS) == set(cards.SATISFACTION_LABELS)
    with translation.override("zh-hans"):
        assert [cards.satisfaction_label(c) for c in SATISFACTION_LABELS] == ["不满意", "中性", "满意"]
