"""The staff pages rendered in Chinese show no English outside an allow list: this catches
strings built in Python (labels, rules, notes, stage names) that the catalogue checks in
tests/test_translations.py cannot see, because they were never wrapped for translation."""
from __future__ import annotations

import re

import pytest

from analytics.services.figures import wordclouds_store
from tests.pages.ui_data import scored_world

pytestmark = pytest.mark.django_db

# Names from the test data, product and model names, and terms staff use untranslated.
ALLOWED = {
    # data
    "customer", "green", "black", "oolong", "jasmine", "north", "south", "example", "person",
    "delivery", "late", "called", "back", "box", "broken", "the", "was", "and", "tea", "pot", "cup", "test", "manager",
    # terms and units
    "crm", "rfm", "clv", "erp", "sku", "api", "csv", "xlsx", "auc", "roc", "mape", "brier", "nbd",
    "english",  # the language switcher names each language in itself
    "gamma", "means", "tf", "idf", "ets", "log", "knn", "lift", "json",
}
WORD = re.compile(r"[A-Za-z]{4,}")


def visible_text(html: str) -> str:
    html = re.sub(r"(?s)<(script|style|code)\b.*?</\1>", " ", html)
    # A model's fitted parameters are technical identifiers (r, alpha, horizon_days), shown folded.
    html = re.sub(r'(?s)<dl class="params">.*?</dl>', " ", html)
    html = re.sub(r"(?s)<!--.*?-->", " ", html)
    html = re.sub(r"(?s)<[^>]+>", " ", html)
    return html


@pytest.fixture
def chinese_client(client, role_user):
    run, _customers = scored_world(6)
    wordclouds_store(run_id=run.pk, timings={})
    client.force_login(role_user("Manager", "manager"))
    client.cookies["django_language"] = "zh-hans"
    return client, run


def test_pages_in_chinese_show_no_english_words(chinese_client):
    from customers.models import Customer

    client, run = chinese_client
    customer = Customer.objects.order_by("pk").first()
    pages = ["/", "/customers/", f"/customers/{customer.pk}/", "/analytics/segments/",
             "/analytics/churn/", "/analytics/clv/", "/analytics/feedback/", "/analytics/runs/",
             f"/analytics/runs/{run.pk}/", "/no-such-page/"]
    found = {}
    for url in pages:
        response = client.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans")
        assert response.status_code in (200, 404), url
        words = {w for w in WORD.findall(visible_text(response.content.decode()))
                 if w.lower() not in ALLOWED}
        if words:
            found[url] = sorted(words)
    assert found == {}, repr(found)
