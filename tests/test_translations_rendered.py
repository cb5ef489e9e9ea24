"""The staff pages rendered in Chinese show no English outside an allow list: this catches
strings built in Python (labels, rules, notes, stage names, model names in the admin) that the
catalogue checks in tests/test_translations.py cannot see, because they were never wrapped for
translation.

Each role walks the main pages it may open (and meets the 403 page on the others). The browser
test tests/pages/test_chinese_pages.py applies the same rule to the text the browser shows,
which also covers what JavaScript writes into the page.
"""
from __future__ import annotations

import html as html_lib
import re

import pytest

from analytics.services.figures import wordclouds_store
from tests.pages.ui_data import campaign_world, scored_world

pytestmark = pytest.mark.django_db

# Names from the test data, product and model names, and terms staff use untranslated.
ALLOWED = {
    # data: customer, product, region and campaign names, feedback text, usernames
    "customer", "green", "black", "oolong", "jasmine", "north", "south", "example", "person",
    "delivery", "late", "called", "back", "box", "broken", "the", "was", "and", "tea", "pot", "cup",
    "test", "manager", "spring", "win",
    # terms, units and names of methods and products
    "crm", "rfm", "clv", "erp", "sku", "api", "csv", "xlsx", "auc", "roc", "mape", "brier", "nbd",
    "english",  # the language switcher names each language in itself
    "gamma", "means", "tf", "idf", "ets", "log", "knn", "lift", "json", "qini", "newcombe",
    "django", "webhook", "javascript",
}
WORD = re.compile(r"[A-Za-z]{4,}")
# Setting names quoted in help text (EMAIL_BACKEND) and placeholders typed literally ({code}).
CODES = re.compile(r"\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b|\{\w+\}")


def visible_text(html: str) -> str:
    # Code and what staff typed into a text area (an admin JSON field) are data, not wording.
    html = re.sub(r"(?s)<(script|style|code|textarea)\b.*?</\1>", " ", html)
    # Text marked as another language (a campaign message previewed in the customer's language).
    html = re.sub(r'(?s)<(p|pre|span|div|blockquote)\b[^>]*\blang="(?!zh)[^"]*"[^>]*>.*?</\1>', " ", html)
    # A model's fitted parameters are technical identifiers (r, alpha, horizon_days), shown folded.
    html = re.sub(r'(?s)<dl class="params">.*?</dl>', " ", html)
    html = re.sub(r"(?s)<!--.*?-->", " ", html)
    html = re.sub(r"(?s)<[^>]+>", " ", html)
    return html_lib.unescape(html)


def english_words(text: str) -> list[str]:
    """The English words in ``text`` that the allow list does not explain."""
    return sorted({w for w in WORD.findall(CODES.sub(" ", text)) if w.lower() not in ALLOWED})


def staff_pages(*, customer_id: int, run_id: int, campaign_id: int, member_id: int, job_id: int) -> list[str]:
    """The pages staff use every day, the admin's index, a change list and a change form."""
    return ["/", "/customers/", f"/customers/{customer_id}/", "/analytics/segments/",
            "/analytics/churn/", "/analytics/clv/", "/analytics/feedback/", "/analytics/bundles/",
            "/analytics/forecast/", "/analytics/accuracy/", "/analytics/runs/", f"/analytics/runs/{run_id}/",
            "/campaigns/", "/campaigns/new/", f"/campaigns/{campaign_id}/",
            f"/campaigns/{campaign_id}/results/", "/campaigns/tasks/", "/campaigns/playbooks/",
            "/campaigns/uplift/", "/data/import/", f"/data/import/{job_id}/", "/data/duplicates/", "/data/quality/",
            "/admin/", "/admin/customers/customer/", f"/admin/customers/customer/{customer_id}/change/",
            "/admin/analytics/scorerun/", f"/admin/analytics/scorerun/{run_id}/change/",
            "/admin/campaigns/campaign/", f"/admin/campaigns/campaign/{campaign_id}/change/",
            f"/admin/campaigns/campaignmember/{member_id}/change/", "/admin/intake/importjob/", "/no-such-page/"]


def staff_world(role_user):
    """Scored customers, a run with model cards and word clouds, a finished campaign whose
    audience uses coded values, and one user per role (names without English words)."""
    from campaigns.models import CampaignMember
    from customers.models import Customer
    from intake.models import ImportJob

    run, customers = scored_world(6)
    wordclouds_store(run_id=run.pk, timings={})
    # Codes the engine stores, which the pages must put into words ("neutral" was shown as is).
    for customer, group in zip(customers, ("neutral", "satisfied", "dissatisfied"), strict=False):
        Customer.objects.filter(pk=customer.pk).update(satisfaction_group=group)
    users = {role: role_user(role, name) for role, name in
             (("Manager", "manager"), ("Sales", "li"), ("Service", "wu"))}
    campaign = campaign_world(users["Manager"])
    campaign.audience = {"value_segments": ["high"], "churn_risks": ["high", "medium"],
                         "lifecycle_stages": ["at_risk"], "regions": ["North"]}
    campaign.save(update_fields=["audience"])
    member = CampaignMember.objects.create(campaign=campaign, customer=customers[0], group="treatment")
    job = ImportJob.objects.create(kind="orders", original_name="2026-11.csv", status="succeeded", total=3,
                                   created=2, rejected=1, created_by=users["Sales"])
    pages = staff_pages(customer_id=customers[0].pk, run_id=run.pk, campaign_id=campaign.pk, member_id=member.pk,
                        job_id=job.pk)
    return users, pages


@pytest.mark.parametrize("role", ["Manager", "Sales", "Service"])
def test_pages_in_chinese_show_no_english_words(client, role_user, role):
    users, pages = staff_world(role_user)
    client.force_login(users[role])
    client.cookies["django_language"] = "zh-hans"
    found, opened = {}, []
    for url in pages:
        response = client.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans")
        assert response.status_code in (200, 403, 404), url
        if response.status_code == 200:
            opened.append(url)
        words = english_words(visible_text(response.content.decode()))
        if words:
            found[url] = words
    assert found == {}, repr(found)
    # Every role opens its start page, the customers and the admin; the walk is not all 403s.
    assert {"/", "/customers/", "/admin/"} <= set(opened)
    if role != "Service":
        assert {"/analytics/runs/", "/campaigns/new/", "/data/import/"} <= set(opened)


def test_the_walk_catches_english_left_in_a_page():
    """The rule itself: an untranslated label built in Python is caught, names and codes are not."""
    page = ('<h1>客户</h1><p>Score runs</p><p>Customer 000 · Green tea · SKU-1</p>'
            '<p>设置 EMAIL_BACKEND，例如 SPRING-{code}</p><script>var hidden = "text";</script>'
            '<textarea>{"feature": "recency"}</textarea><p>&rsaquo; 首页</p>')
    assert english_words(visible_text(page)) == ["Score", "runs"]
