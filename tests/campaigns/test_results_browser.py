"""A fresh campaign in a real browser, English and Chinese (#16 items 6 and 11): launching and
scheduling go through a confirmation showing the audience (with who each rule left out), the
control group and the cost; on launch day the results say "too early to tell" and warn of the
tiny control group instead of "-100 %" and an empty chart; money shows the currency."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from campaigns import services
from campaigns.models import Campaign
from tests.factories import OrderFactory

from .conftest import make_customers

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WORDS = {
    "en": {"too_early": "Too early to tell", "tiny": "The control group holds only 3 customers",
           "currency": "CN¥", "scheduled": "Scheduled", "matched": "Match the filters",
           "no_consent": "Left out: No marketing consent"},
    "zh-hans": {"too_early": "现在下结论还为时过早", "tiny": "对照组只有 3 位客户", "currency": "¥",
                "scheduled": "已排期", "matched": "符合筛选条件", "no_consent": "未纳入：未同意营销"},
}


def switch_language(page, code: str) -> None:
    with page.expect_navigation():
        page.select_option("#language", code)


def _draft(user, name: str, **fields) -> Campaign:
    values = {"name": name, "objective": "retention", "kind": "marketing", "frequency_cap_days": 0,
              "cost_per_contact": "0.50", "control_share": "0.10"}
    values.update(fields)
    return services.campaign_create(created_by=user, fields=values, audience={})


def _open_confirmation(page, login, user, campaign, language, *, button):
    """Open the campaign's page as ``user`` in ``language`` and press ``button`` (launch or
    schedule): nothing happens yet, the confirmation states audience, control group and cost."""
    login(user)
    page.goto(f"/campaigns/{campaign.pk}/")
    if language != "en":
        switch_language(page, language)
    with page.expect_navigation():
        page.click(button)
    assert page.locator("#launch-audience").inner_text() == "30"
    assert page.locator("#launch-control").inner_text() == "3 (10 %)"
    assert page.locator("#launch-cost").inner_text().startswith(WORDS[language]["currency"] + "13.50")


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_launch_confirms_first_and_a_fresh_campaign_is_too_early_to_tell(page, login, role_user, language,
                                                                        tmp_path):
    words = WORDS[language]
    make_customers(30)
    make_customers(4, start=100, consent=False)
    sales = role_user("Sales")
    campaign = _draft(sales, "Fresh")
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    _open_confirmation(page, login, sales, campaign, language, button="#launch")
    breakdown = page.locator("#audience-breakdown")
    assert words["matched"] in breakdown.inner_text() and words["no_consent"] in breakdown.inner_text()
    assert breakdown.locator("[data-rule=no_consent]").inner_text() == "−4"
    assert page.locator("#launch-tiny-control").is_visible()
    assert Campaign.objects.get(pk=campaign.pk).status == Campaign.Status.DRAFT
    page.screenshot(path=str(tmp_path / f"launch-confirm-{language}.png"), full_page=True)
    with page.expect_navigation():
        page.click("#confirm-launch")
    assert Campaign.objects.get(pk=campaign.pk).members.count() == 30

    page.goto(f"/campaigns/{campaign.pk}/results/")
    assert words["too_early"] in page.locator("#too-early").inner_text()
    assert words["tiny"] in page.locator("#tiny-control").inner_text()
    assert page.locator("#roi").count() == 0 and page.locator("#relative-uplift").count() == 0
    assert page.locator("canvas").count() == 0  # no empty chart
    body = page.locator("main, body").first.inner_text()
    assert "-100 %" not in body and "- .. -" not in body
    page.screenshot(path=str(tmp_path / f"results-fresh-{language}.png"), full_page=True)
    assert errors == []


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_scheduling_goes_through_the_same_confirmation(page, login, role_user, language):
    words = WORDS[language]
    make_customers(30)
    sales = role_user("Sales")
    start = timezone.localdate() + timedelta(days=3)
    campaign = _draft(sales, "Later", starts_on=start)
    _open_confirmation(page, login, sales, campaign, language, button="#schedule")
    assert Campaign.objects.get(pk=campaign.pk).status == Campaign.Status.DRAFT
    assert start.isoformat() in page.locator("#confirm-schedule").inner_text()
    assert page.locator("#confirm-launch").count() == 0
    with page.expect_navigation():
        page.click("#confirm-schedule")
    assert Campaign.objects.get(pk=campaign.pk).status == Campaign.Status.SCHEDULED
    assert page.locator("#status").inner_text() == words["scheduled"]


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_results_with_data_show_money_with_the_currency_and_the_interval_in_words(page, login, role_user,
                                                                                 language):
    words = WORDS[language]
    customers = make_customers(30)
    sales = role_user("Sales")
    campaign = services.campaign_launch(campaign_id=_draft(sales, "Measured", control_share="0.20").pk,
                                        launched_by=sales)
    for customer in customers[:10]:
        OrderFactory(customer=customer, ordered_at=campaign.launched_at + timedelta(hours=1),
                     total_amount=Decimal("1500"))
    services.campaign_results_refresh(campaign_id=campaign.pk, now=timezone.now())
    login(sales)
    page.goto(f"/campaigns/{campaign.pk}/results/")
    if language != "en":
        switch_language(page, language)
    assert page.locator("#too-early").count() == 0
    assert page.locator("#cost").inner_text().startswith(words["currency"])
    assert words["currency"] in page.locator("#incremental-revenue").inner_text()
    assert page.locator("#interval-plain").is_visible()
    assert page.locator("#tiny-control").is_visible()  # 6 control members
    page.locator("canvas").first.wait_for()
