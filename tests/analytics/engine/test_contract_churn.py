"""Churn for a contract business: customers with an explicit status and imported attributes, and
no orders (analytics.engine.churn with the explicit label, analytics.engine.attributes).

The synthetic set follows the shape of the IBM Telco Customer Churn data (bench/contract_churn.py
runs the real one): churn depends on the contract type, the tenure and the monthly charges, with
noise; each customer also has an identifier column and a high-cardinality column the model must
leave out, and some missing values.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics.engine import attributes, churn, incremental, lifecycle
from analytics.engine.features import feature_label
from analytics.engine.frames import FEEDBACK_COLUMNS, INTERACTION_COLUMNS, ORDER_COLUMNS, empty_frame
from analytics.engine.pipeline import CUSTOMER_PART, EngineSettings, run_engine

AS_OF = pd.Timestamp("2026-06-30")
CONTRACTS = ("Month-to-month", "One year", "Two year")
CONTRACT_LOGIT = {"Month-to-month": 1.2, "One year": -0.6, "Two year": -1.8}


def contract_customers(n: int = 3000, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    contract = rng.choice(CONTRACTS, size=n, p=[0.55, 0.25, 0.20])
    tenure = rng.integers(1, 73, size=n)
    charges = np.round(rng.uniform(20, 115, size=n), 2)
    logit = (np.vectorize(CONTRACT_LOGIT.get)(contract) - 0.04 * (tenure - 30) + 0.02 * (charges - 65)
             - 1.0 + rng.normal(0, 0.5, size=n))
    churned = rng.random(n) < 1 / (1 + np.exp(-logit))
    payment = rng.choice(["Electronic check", "Mailed check", "Bank transfer", "Credit card"], size=n)
    records = []
    for i in range(n):
        record = {
            "account_ref": f"AC-{100000 + i}",                     # identifier: unique per customer
            "postcode": f"{rng.integers(0, 600):04d}",             # high cardinality: ~5 customers each
            "Contract": str(contract[i]),
            "tenure": str(int(tenure[i])),                          # numbers imported as text
            "MonthlyCharges": str(charges[i]),
            "PaymentMethod": str(payment[i]),
        }
        if i % 50 == 0:
            record["MonthlyCharges"] = ""                           # missing now and then
        records.append(record)
    return pd.DataFrame({
        "customer_id": np.arange(1, n + 1, dtype="int64"),
        "signup_date": pd.NaT,
        "status": np.where(churned, "churned", "active"),
        "gender": "", "region": "", "city": "", "channel": "", "consent": True,
        "attributes": records,
    }).astype({"signup_date": "datetime64[ns]"})


def no_orders() -> pd.DataFrame:
    return empty_frame(ORDER_COLUMNS).astype({"order_id": "int64", "customer_id": "int64",
                                              "ordered_at": "datetime64[ns]", "total_amount": "float64"})


def no_events() -> dict[str, pd.DataFrame]:
    """The frames of a business with no orders, feedback or interactions (as the adapter reads them)."""
    feedback = empty_frame(FEEDBACK_COLUMNS).astype({"feedback_id": "int64", "customer_id": "int64",
                                                     "created_at": "datetime64[ns]", "rating": "float64",
                                                     "sentiment_score": "float64"})
    interactions = empty_frame(INTERACTION_COLUMNS).astype({"customer_id": "int64",
                                                            "occurred_at": "datetime64[ns]"})
    return {"orders": no_orders(), "items": pd.DataFrame(), "products": pd.DataFrame(),
            "feedback_frame": feedback, "interactions": interactions}


@pytest.fixture(scope="module")
def contract():
    return contract_customers()


@pytest.fixture(scope="module")
def result(contract):
    return churn.predict_churn(customers=contract, orders=no_orders(), as_of=AS_OF, label="explicit")


def test_every_customer_is_scored_with_or_without_orders(result, contract):
    assert set(result.scores.index) == set(contract["customer_id"])
    assert result.scores["churn_probability"].between(0, 1).all()
    assert result.scores["churn_risk"].isin(["low", "medium", "high"]).all()


def test_holdout_auc_is_well_above_chance(result):
    card = result.card.as_dict()
    assert card["roc_auc"] > 0.75
    assert card["roc_auc"] > card["baseline_roc_auc"] + 0.2
    assert card["brier"] < card["baseline_brier"]


def test_the_card_states_mode_label_holdout_and_the_attribute_columns(result):
    params = result.card.params
    assert params["label"] == "explicit" and params["label_source"] == "customers.status == 'churned'"
    assert params["holdout"].startswith("stratified random")
    assert set(params["attributes_used"]) == {"Contract", "tenure", "MonthlyCharges", "PaymentMethod"}
    assert params["attributes_left_out"] == {"account_ref": "identifier", "postcode": "high_cardinality"}
    # No orders anywhere: no order features, so no silence constraint either.
    assert params["order_features"] is False and params["monotone_features"] == {}
    assert not any(c in result.columns for c in churn.ORDER_FEATURES)


def test_attributes_are_encoded_by_their_values(contract):
    encoder = attributes.fit_encoder(attributes.attribute_table(contract))
    assert set(encoder.numeric) == {"tenure", "MonthlyCharges"}
    assert encoder.flagged == ("MonthlyCharges",)            # its blanks get a missing flag
    assert encoder.categorical["Contract"] == CONTRACTS
    x = encoder.transform(attributes.attribute_table(contract.iloc[:3]))
    assert x.loc[1, "attr:MonthlyCharges:missing"] == 1.0     # customer 1 is row 0: blank charges
    assert x.loc[1, "attr:MonthlyCharges"] == encoder.numeric["MonthlyCharges"]
    assert x.filter(like="attr:Contract=").sum(axis=1).eq(1).all()
    assert feature_label("attr:Contract=Month-to-month") == "Contract: Month-to-month"


def test_reasons_name_attributes_readably_and_never_a_missing_value(result, contract):
    table = attributes.attribute_table(contract)
    features = [r["feature"] for rs in result.scores["churn_reasons"] for r in rs]
    assert features and all(f.startswith("attr:") for f in features)
    assert {"attr:Contract", "attr:tenure"} <= set(features)
    for customer_id, reasons in result.scores["churn_reasons"].items():
        for reason in reasons:
            name = reason["feature"][len("attr:"):]
            own = table.at[customer_id, name]
            assert own is not None                                # a missing value is never a reason
            if name == "Contract":
                assert reason["value"] == own and reason["typical"] == "Month-to-month"
            elif name == "PaymentMethod":
                assert reason["value"] == own
            else:
                assert reason["value"] == pytest.approx(float(own))
    # Month-to-month is the typical contract, so it is no reason; a two-year contract is what
    # keeps most low-risk customers who have one safe.
    low = result.scores["churn_risk"] == "low"
    two_year = contract.set_index("customer_id")["attributes"].map(lambda a: a["Contract"] == "Two year")
    named = result.scores.loc[low & two_year, "churn_reasons"].map(
        lambda rs: any(r["feature"] == "attr:Contract" and r["direction"] == "down"
                       and r["value"] == "Two year" for r in rs))
    assert named.mean() > 0.5
    assert not any(r["feature"] == "attr:Contract" and r["value"] == "Month-to-month"
                   for rs in result.scores["churn_reasons"] for r in rs)


def test_forced_behavioural_falls_back_to_the_order_model(demo, as_of):
    settings_ = EngineSettings(churn_label="behavioural")
    output = run_engine(customers=demo.customers, orders=demo.orders, items=demo.items.iloc[:0],
                        products=demo.products.iloc[:0], feedback_frame=demo.feedback,
                        interactions=demo.interactions, as_of=as_of, settings=settings_,
                        parts=frozenset({CUSTOMER_PART}))
    card = output.cards["churn"]
    assert card["params"]["label"] == "behavioural" and card["params"]["label_choice"] == "forced by setting"
    buyers = set(demo.orders.loc[demo.orders["ordered_at"] < as_of, "customer_id"])
    assert set(output.scores.index[output.scores["churn_probability"].notna()]) == buyers


def test_forced_behavioural_without_orders_gives_no_churn(contract):
    output = run_engine(customers=contract, **no_events(), as_of=AS_OF,
                        settings=EngineSettings(churn_label="behavioural"), parts=frozenset({CUSTOMER_PART}))
    assert "churn" in output.skipped and output.scores["churn_probability"].isna().all()


def test_auto_takes_the_status_of_a_contract_business_and_not_of_a_shop(contract, demo, as_of):
    assert churn.churn_label(contract, no_orders(), as_of=AS_OF)[0] == "explicit"
    # The demo shop marks some cancellations (9 %), but nearly everyone buys: silence labels churn.
    assert churn.churn_label(demo.customers, demo.orders, as_of=as_of)[0] == "behavioural"
    few = contract.assign(status=np.where(contract["customer_id"] <= 40, "churned", "active"))
    assert churn.churn_label(few, no_orders(), as_of=AS_OF)[0] == "behavioural"      # < 50 churned
    assert churn.churn_label(few, no_orders(), as_of=AS_OF, min_churned=40, min_share=0.01)[0] == "explicit"
    assert churn.churn_label(demo.customers, demo.orders, as_of=as_of, setting="explicit")[0] == "explicit"


def test_full_run_scores_everyone_and_the_stage_follows_the_band(contract):
    output = run_engine(customers=contract, **no_events(), as_of=AS_OF, parts=frozenset({CUSTOMER_PART}))
    scores = output.scores
    assert output.cards["churn"]["params"]["label"] == "explicit"
    assert scores["churn_probability"].notna().all()
    assert scores["rfm_segment"].isna().all() and scores["clv_12m"].isna().all()   # no orders
    status = contract.set_index("customer_id")["status"]
    stage, risk = scores["lifecycle_stage"], scores["churn_risk"]
    assert (stage[status == "churned"] == "churned").all()                         # status wins
    active = status == "active"
    assert (stage[active & (risk == "high")] == "at_risk").all()
    assert (stage[active & (risk != "high")] == "active").all()

    # Rescoring a few customers uses the same mode, encoder and columns: the same numbers.
    few = contract.iloc[:30]
    events = no_events()
    rescored = incremental.rescore(output.snapshot, customers=few, orders=events["orders"],
                                   feedback=events["feedback_frame"], interactions=events["interactions"],
                                   as_of=AS_OF)
    ids = few["customer_id"].to_numpy()
    np.testing.assert_allclose(rescored.loc[ids, "churn_probability"].astype(float),
                               scores.loc[ids, "churn_probability"].astype(float), rtol=1e-9)
    assert (rescored.loc[ids, "churn_reasons"] == scores.loc[ids, "churn_reasons"]).all()
    assert (rescored.loc[ids, "lifecycle_stage"] == scores.loc[ids, "lifecycle_stage"]).all()


@settings(max_examples=40, deadline=None)
@given(risk=st.sampled_from(["low", "medium", "high"]), status=st.sampled_from(["active", "churned"]))
def test_a_scored_customer_without_orders_gets_a_coherent_stage(risk, status):
    customers = pd.DataFrame({"customer_id": [1], "status": [status]})
    out = lifecycle.lifecycle_stages(customers, no_orders(), as_of=AS_OF,
                                     churn_risk=pd.Series([risk], index=[1]))
    stage = out.loc[1, "lifecycle_stage"]
    expected = "churned" if status == "churned" else ("at_risk" if risk == "high" else "active")
    assert stage == expected
