"""Uplift models learnt from the demo's past randomised campaigns, and their page."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from campaigns.demo import LAUNCH_DAYS_AGO, MOVABLE_RISK
from campaigns.models import Campaign, CampaignMember, UpliftModel
from campaigns.selectors import member_outcomes
from campaigns.targeting import predicted_uplift, uplift_models_refresh, uplift_training_data


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
        yield demo_campaigns_seed(seed=5)
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
