"""Work a full run does once instead of twice: shared feature tables and sampled model cards."""
import pandas as pd
import pytest

from analytics.engine import churn, features, loyalty


def _frames(demo):
    return {"customers": demo.customers, "orders": demo.orders, "feedback": demo.feedback,
            "interactions": demo.interactions}


def test_shared_feature_tables_are_the_same_tables_and_callers_get_copies(small_demo, as_of):
    frames = _frames(small_demo)
    alone = features.build_features(**frames, cutoff=as_of)
    with features.shared_features():
        first = features.build_features(**frames, cutoff=as_of)
        stored = next(iter(features._shared.values()))
        first["frequency"] = -1  # a caller changing its table must not change the next caller's
        second = features.build_features(**frames, cutoff=as_of)
        features.build_features(**frames, cutoff=as_of - pd.Timedelta(days=90))
        built = dict(features._shared)
    assert [key[-1] for key in built] == [as_of, as_of - pd.Timedelta(days=90)]
    assert next(iter(built.values())) is stored  # the second call for a date built nothing
    assert features._shared is None  # nothing kept after the block
    pd.testing.assert_frame_equal(second, alone)
    pd.testing.assert_frame_equal(features.build_features(**frames, cutoff=as_of), alone)


def test_model_cards_are_measured_on_a_sample_and_scores_do_not_depend_on_it(small_demo, as_of, monkeypatch):
    frames = {**_frames(small_demo), "as_of": as_of}
    whole_churn, whole_loyalty = churn.predict_churn(**frames), loyalty.predict_loyalty(**frames)
    assert whole_churn.card.params["n_eval"] == whole_churn.card.params["n_eval_available"]
    cap = whole_churn.card.params["n_eval"] // 2
    monkeypatch.setattr(churn, "MAX_EVAL_ROWS", cap)
    monkeypatch.setattr(loyalty, "MAX_EVAL_ROWS", cap)
    capped_churn, capped_loyalty = churn.predict_churn(**frames), loyalty.predict_loyalty(**frames)

    for whole, capped in ((whole_churn, capped_churn), (whole_loyalty, capped_loyalty)):
        assert capped.card.params["n_eval"] == cap
        assert capped.card.params["n_eval_available"] == whole.card.params["n_eval"]
        assert capped.card.metrics["roc_auc"] == pytest.approx(whole.card.metrics["roc_auc"], abs=0.05)
    pd.testing.assert_frame_equal(capped_loyalty.scores, whole_loyalty.scores)
    # Churn chooses its candidate model by the evaluation AUC; on this data the choice holds.
    assert capped_churn.card.name == whole_churn.card.name
    pd.testing.assert_series_equal(capped_churn.scores["churn_probability"],
                                   whole_churn.scores["churn_probability"])


@pytest.mark.parametrize("churn_window_days", [loyalty.LOYALTY_HORIZON_DAYS, 60])
def test_feature_tables_are_kept_only_for_a_loyalty_model_of_its_own(small_demo, as_of, monkeypatch,
                                                                     churn_window_days):
    """Loyalty is read off churn when churn's window is loyalty's horizon: the tables churn
    builds would then be kept for nobody. Over another window loyalty fits its own model on the
    same tables, and finds them built."""
    from analytics.engine import pipeline

    seen = {}
    for module, name in ((churn, "predict_churn"), (loyalty, "predict_loyalty")):
        def kept(*args, _fit=getattr(module, name), _name=name, **kwargs):
            seen[_name] = features._shared is not None
            return _fit(*args, **kwargs)
        monkeypatch.setattr(module, name, kept)
    pipeline.run_engine(customers=small_demo.customers, orders=small_demo.orders, items=small_demo.items,
                        products=small_demo.products, feedback_frame=small_demo.feedback,
                        interactions=small_demo.interactions, as_of=as_of,
                        settings=pipeline.EngineSettings(churn_window_days=churn_window_days),
                        parts=frozenset({pipeline.CUSTOMER_PART}))
    if churn_window_days == loyalty.LOYALTY_HORIZON_DAYS:
        assert seen == {"predict_churn": False}
    else:
        assert seen == {"predict_churn": True, "predict_loyalty": True}


def test_churn_builds_the_features_of_its_samples_only_and_scores_as_from_everyones(small_demo, as_of,
                                                                                    monkeypatch):
    """Churn fits on samples: it builds the features of the sampled customers (and of the
    churners the complaint-reason tree learns from), and its scores and card are those it gets
    from everyone's features, sampled afterwards."""
    frames = {**_frames(small_demo), "as_of": as_of}
    monkeypatch.setattr(churn, "FIT_ROWS_CAP", 150)
    monkeypatch.setattr(churn, "MAX_EVAL_ROWS", 300)
    build = features.build_features
    sizes = []

    def everyone(*, only=None, **kwargs):
        table = build(**kwargs)   # every customer's features, then the rows asked for
        return table if only is None else table.loc[table.index.isin(only)]

    def counted(**kwargs):
        table = build(**kwargs)
        sizes.append((kwargs.get("only") is not None, len(table)))
        return table

    monkeypatch.setattr(features, "build_features", everyone)
    whole = churn.predict_churn(**frames)
    monkeypatch.setattr(features, "build_features", counted)
    sampled = churn.predict_churn(**frames)

    pd.testing.assert_frame_equal(sampled.scores, whole.scores)
    assert sampled.card == whole.card
    assert whole.card.params["n_fit"] == 150 and whole.card.params["n_fit_available"] > 2 * 150
    assert whole.card.params["n_eval"] == 300 and whole.card.params["n_eval_available"] > 300
    parts = [n for part, n in sizes if part]
    assert len(parts) == 2 and parts[1] == 150   # the latest window's rows, then the fit window's
    given = churn._latest_complaint_reason(small_demo.feedback, as_of).index
    assert parts[0] <= 150 + 300 + len(given) and parts[0] < whole.card.params["n_eval_available"]
