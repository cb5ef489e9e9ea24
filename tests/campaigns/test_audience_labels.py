"""A campaign's stored audience shown in words, in the reader's language."""
from __future__ import annotations

from django.utils import translation

from campaigns.forms import audience_labels


def test_codes_become_labels_in_both_languages():
    audience = {"value_segments": ["high", "low"], "rfm_segments": ["Loyal Customers"], "churn_min": 0.6,
                "regions": ["North"]}
    with translation.override("en"):
        rows = dict(audience_labels(audience))
        assert rows["Value segments"] == "High, Low"
        assert rows["Churn probability from"] == "0.6"
        assert rows["Regions"] == "North"
        assert rows["RFM segments"] == "Loyal Customers"
    with translation.override("zh-hans"):
        rows = audience_labels(audience)
        assert rows[0][1] == "高, 低"
        assert rows[1][1] == translation.gettext("Loyal Customers") != "Loyal Customers"
        assert all(not label.isascii() for label, _value in rows)
