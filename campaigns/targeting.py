"""Targeting by uplift: learn from randomised campaigns whom a campaign of an objective changes,
and pick an audience by that instead of by risk.

The members of finished campaigns with a control group carry their scores at launch, their group
(drawn at random) and whether they converted in the attribution window: exactly what an uplift
model needs (:mod:`analytics.engine.uplift`). Members added by hand were not randomised and are
left out, as they are from the measured uplift.
"""
from __future__ import annotations

import pickle
import zlib

import numpy as np
import pandas as pd
from django.db import transaction
from django.utils import timezone

from analytics.engine.uplift import NotEnoughCampaignData, uplift_fit

from .models import Campaign, CampaignMember, UpliftModel
from .selectors import member_outcomes, uplift_features


def uplift_training_data(*, objective: str) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, int]:
    """Features, treatment (1/0) and conversion (1/0) of every randomised member of the finished
    campaigns with ``objective`` and a control group; and how many campaigns those are."""
    campaigns = list(Campaign.objects.filter(objective=objective, status=Campaign.Status.FINISHED,
                                             members__group=CampaignMember.Group.CONTROL).distinct())
    rows, treated, converted = [], [], []
    for campaign in campaigns:
        for member in member_outcomes(campaign).filter(added_by_hand=False):
            rows.append(member.scores)
            treated.append(int(member.group == CampaignMember.Group.TREATMENT))
            converted.append(int((member.window_orders or 0) > 0))
    return uplift_features(rows), np.array(treated, dtype=int), np.array(converted, dtype=int), len(campaigns)


@transaction.atomic
def uplift_model_fit(*, objective: str, seed: int = 0) -> UpliftModel:
    """Fit (or refit) the objective's uplift model; NotEnoughCampaignData when the finished
    campaigns hold too few randomised members or conversions."""
    features, treated, converted, n_campaigns = uplift_training_data(objective=objective)
    fitted = uplift_fit(features, treated, converted, seed=seed)
    model, _created = UpliftModel.objects.update_or_create(objective=objective, defaults={
        "fitted_at": timezone.now(), "campaigns": n_campaigns, "members": len(treated),
        "credible": fitted.credible, "card": fitted.card(),
        "payload": zlib.compress(pickle.dumps(fitted))})
    return model


def uplift_models_refresh() -> dict[str, str]:
    """Refit every objective that has finished randomised campaigns (the nightly job); returns
    what happened per objective."""
    done = {}
    objectives = (Campaign.objects.filter(status=Campaign.Status.FINISHED,
                                          members__group=CampaignMember.Group.CONTROL)
                  .values_list("objective", flat=True).distinct())
    for objective in objectives:
        try:
            model = uplift_model_fit(objective=objective)
        except NotEnoughCampaignData as exc:
            UpliftModel.objects.filter(objective=objective).delete()
            done[objective] = str(exc)
        else:
            done[objective] = f"{model.card['name']} (credible: {model.credible})"
    return done
