"""Uplift models learnt from the demo's past randomised campaigns, and their page."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from campaigns.demo import LAUNCH_DAYS_AGO, MOVABLE_RISK
from campaigns.models import Campaign, CampaignMember, UpliftModel
from campaigns.selectors import member_outcomes, predicted_uplift
from campaigns.targeting import uplift_models_refresh, uplift_training_data


# First: the module's demo campaigns do not exist yet.
@pytest.mark.django_db
def test_without_randomised_campaigns_there_is_no_model_and_the_page_says_why(client, role_user):
    assert uplift_models_refresh() == {}
    client.force_login(role_user("Manager"))
    assert "No uplift model yet" in client.get("/campaigns/uplift/").content.decode()


@pytest.fixture(scope="module")
def demo_campaigns(django_db_setup, django_db_blocker):
    from django.contrib.auth import get_user_model

    from analytics.models import ScoreRun
    from campaigns.demo import demo_campaigns_seed
    from customers.demo.loader import DEMO_USERS, _flush, demo_seed

    with django_db_blocker.unblock():
        demo_seed(n_customers=1500, seed=3, as_of=pd.Timestamp.now(tz="UTC").normalize(), flush=True)
        result = demo_campaigns_seed(seed=5)
        from io import StringIO

        from django.core.management import call_command

        call_command("recompute_scores", "--sync", stdout=StringIO())  # today's scores, as scripts/run does
        yield result
        CampaignMember.objects.all().delete()
        Campaign.objects.all().delete()
        UpliftModel.objects.all().delete()
        ScoreRun.objects.all().delete()
        _flush()
        get_user_model().objects.filter(username__in=DEMO_USERS).delete()


@pytest.mark.django_db
def test_the_demo_has_past_randomised_campaigns_whose_effect_depends_on_risk(demo_campaigns):
    campaigns = Campaign.objects.filter(pk__in=demo_campaigns["campaigns"])
    assert campaigns.count() == len(LAUNCH_DAYS_AGO)
    assert set(campaigns.values_list("status", flat=True)) == {"finished"}
    low, high = MOVABLE_RISK
    gains = {}
    for band, inside in (("movable", True), ("others", False)):
        rates = {}
        for group in ("treatment", "control"):
            converted = total = 0
            for campaign in campaigns:
                for member in member_outcomes(campaign).filter(group=group):
                    p = member.scores["churn_probability"]
                    if (low <= p < high) == inside:
                        total += 1
                        converted += (member.window_orders or 0) > 0
            rates[group] = converted / total
        gains[band] = rates["treatment"] - rates["control"]
    # Medium-risk customers are moved; the loyal and the gone are not (within noise).
    assert gains["movable"] > 0.15 and abs(gains["others"]) < 0.05


@pytest.mark.django_db
def test_the_uplift_model_ranks_the_movable_customers_first(demo_campaigns):
    model = UpliftModel.objects.get(objective="retention")
    card = model.card
    assert model.members == len(uplift_training_data(objective="retention")[1]) > 1000
    assert set(card["candidates"]) >= {"two_models", "class_transformation"} and card["name"] in card["candidates"]
    assert len(card["curve"]["share"]) == len(card["curve"]["model"]) == len(card["curve"]["random"])
    assert model.credible == (card["qini_interval"][0] > 0)
    features, _, _, _ = uplift_training_data(objective="retention")
    ids = list(CampaignMember.objects.filter(campaign__status="finished").values_list("customer_id", flat=True)
               .distinct()[:600])
    scores = predicted_uplift(model=model, customer_ids=ids)
    assert len(scores) == len(ids) and all(np.isfinite(list(scores.values())))


@pytest.mark.django_db
def test_the_page_shows_the_qini_curve_and_says_whether_it_beats_random(demo_campaigns, client, role_user):
    client.force_login(role_user("Sales"))
    page = client.get("/campaigns/uplift/")
    assert page.status_code == 200
    text = page.content.decode()
    assert 'id="uplift-retention"' in text and "qini-retention" in text
    expected = "Better than random targeting" if UpliftModel.objects.get().credible else "Not yet better than random"
    assert expected in text
    client.force_login(role_user("Service"))
    assert client.get("/campaigns/uplift/").status_code == 403


@pytest.mark.django_db
def test_an_audience_of_the_customers_the_campaign_most_likely_changes(demo_campaigns, client, role_user):
    from customers.models import Customer

    UpliftModel.objects.filter(objective="retention").update(credible=True)  # the mechanics, whatever the fit
    client.force_login(role_user("Sales"))
    params = {"a-uplift_top_n": "120", "c-objective": "retention", "c-kind": "marketing"}
    preview = client.get("/campaigns/preview/", params)
    assert preview.status_code == 200 and preview.json()["size"] == 120
    # The model's picks lean to the customers the discount moves (medium risk at launch), where
    # the riskiest 120 are mostly those already gone.
    from campaigns.selectors import audience_queryset

    picked = list(audience_queryset(filters={"uplift_top_n": 120, "uplift_objective": "retention"},
                                    kind="marketing").values_list("churn_probability", flat=True))
    riskiest = list(Customer.objects.filter(marketing_consent=True, churn_probability__isnull=False)
                    .order_by("-churn_probability").values_list("churn_probability", flat=True)[:120])
    low, high = MOVABLE_RISK

    def movable(values):
        return sum(low <= p < high for p in values if p is not None) / len(values)

    assert movable(picked) > movable(riskiest)


@pytest.mark.django_db
def test_uplift_targeting_is_refused_when_no_model_beats_random(demo_campaigns, client, role_user):
    UpliftModel.objects.filter(objective="retention").update(credible=False)
    client.force_login(role_user("Sales"))
    for objective in ("retention", "upsell"):  # a model no better than random; no model at all
        preview = client.get("/campaigns/preview/", {"a-uplift_top_n": "50", "c-objective": objective})
        assert preview.status_code == 400
        assert "better than random" in str(preview.json()["errors"]["uplift_top_n"])


@pytest.mark.django_db
def test_an_audience_of_the_customers_worth_contacting_by_predicted_profit(demo_campaigns, client, role_user):
    from campaigns.selectors import audience_queryset, uplift_profit

    model = UpliftModel.objects.get(objective="retention")
    UpliftModel.objects.filter(pk=model.pk).update(credible=True)
    client.force_login(role_user("Sales"))
    offer = {"c-objective": "retention", "c-discount_percent": "10", "c-cost_per_contact": "0.5",
             "c-attribution_days": "30", "a-uplift_positive_profit": "on"}
    refused = client.get("/campaigns/preview/", offer)
    assert refused.status_code == 400 and "uplift_margin" in refused.json()["errors"]
    rich = client.get("/campaigns/preview/", {**offer, "a-uplift_margin": "0.6"}).json()["size"]
    poor = client.get("/campaigns/preview/", {**offer, "a-uplift_margin": "0.05"}).json()["size"]
    assert rich > poor  # a thinner margin leaves fewer customers worth the offer
    filters = {"uplift_positive_profit": True, "uplift_objective": "retention", "uplift_margin": 0.6,
               "uplift_discount": 0.1, "uplift_contact_cost": 0.5, "uplift_days": 30}
    # The page's preview is an e-mail campaign's (the default channel): customers with an address.
    chosen = set(audience_queryset(filters=filters, kind="marketing", channel="email").values_list("pk", flat=True))
    model.refresh_from_db()
    profit = uplift_profit(model=model, customer_ids=list(chosen), margin=0.6, discount=0.1, contact_cost=0.5,
                           days=30)
    assert len(chosen) == rich and all(value > 0 for value in profit.values())
