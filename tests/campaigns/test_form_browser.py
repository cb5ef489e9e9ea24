"""The campaign form in a real browser (issues 16.2 and 17.6): products chosen by name with the
keyboard, and the warning that the control group is too small, in English and Chinese."""
import pytest

from campaigns.models import Campaign
from tests.factories import CustomerFactory, OrderFactory, ProductFactory

from .conftest import make_customers

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def switch_language(page, code: str) -> None:
    with page.expect_navigation():
        page.select_option("#language", code)


def test_product_search_and_power_warning_in_both_languages(page, login, role_user, tmp_path):
    honey = ProductFactory(name="Wildflower honey", sku="HNY-1")
    ProductFactory(name="Green tea", sku="TEA-1")
    make_customers(60, expected_orders_90d=0.3)
    # With an address: an e-mail campaign's preview leaves out customers it cannot reach.
    buyer = CustomerFactory(name="Honey buyer", marketing_consent=True, expected_orders_90d=0.3,
                            email="honey@example.com")
    OrderFactory(customer=buyer, products=[honey])
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    login(role_user("Sales"))
    page.goto("/campaigns/new/")
    page.select_option("#id_c-objective", "retention")
    page.wait_for_function("document.getElementById('preview-size').textContent === '61'")

    # 61 customers with 10 % held out cannot show the 3 points a retention campaign usually gets.
    warning = page.locator("#power-warning")
    warning.wait_for(state="visible")
    assert "3.0 points this objective usually gains" in warning.inner_text()
    assert page.locator("#power-no-share").is_visible()
    assert "percentage points" in page.locator("#power-mde-line").inner_text()
    page.screenshot(path=str(tmp_path / "campaign-form-en.png"), full_page=True)

    # The "Bought any of" label now names a search box: type, arrow down, Enter.
    search = page.get_by_label("Bought any of", exact=True)
    assert search.get_attribute("role") == "combobox"
    search.focus()
    page.keyboard.type("honey")
    option = page.locator("#id_a-bought_any-options [role=option]")
    option.first.wait_for()
    assert option.first.inner_text() == "Wildflower honey (HNY-1)"
    page.keyboard.press("ArrowDown")
    assert search.get_attribute("aria-activedescendant") == "id_a-bought_any-options-0"
    page.keyboard.press("Enter")
    chip = page.locator(".product-chip", has_text="Wildflower honey")
    chip.wait_for()
    assert page.locator("#id_a-bought_any").input_value() == str(honey.pk)
    # The preview follows: one customer bought it.
    page.wait_for_function("document.getElementById('preview-size').textContent === '1'")
    assert page.locator("#power-none").is_visible()

    page.fill("#id_c-name", "Honey lovers")
    with page.expect_navigation():
        page.click("button[type=submit]:has-text('Save draft')")
    campaign = Campaign.objects.get(name="Honey lovers")
    assert campaign.audience["bought_any"] == [honey.pk]
    assert "Wildflower honey" in page.locator("main, body").first.inner_text()

    # Chinese: the same warning, and the chosen product still shown by name on the edit page.
    page.goto(f"/campaigns/{campaign.pk}/edit/")
    switch_language(page, "zh-hans")
    page.locator(".product-chip", has_text="Wildflower honey").wait_for()
    chip = page.locator(".product-chip", has_text="Wildflower honey")
    assert chip.get_attribute("aria-label") == "移除 Wildflower honey"
    chip.focus()
    page.keyboard.press("Enter")
    assert page.locator(".product-chip").count() == 0
    page.wait_for_function("document.getElementById('preview-size').textContent === '61'")
    warning.wait_for(state="visible")
    assert "此目标通常获得的 3.0 个百分点" in warning.inner_text()
    assert page.locator("#power h3").inner_text() == "对照组能否看出效果？"
    page.screenshot(path=str(tmp_path / "campaign-form-zh.png"), full_page=True)
    assert errors == []


WHO_WORDS = {
    "en": {"high": "High", "matched": "Match the filters", "no_consent": "Left out: No marketing consent",
           "cap": "Left out: Treated by another campaign within the frequency cap",
           "no_email": "Left out: No e-mail address", "no_phone": "Left out: No phone number",
           "audience": "Audience"},
    "zh-hans": {"high": "高", "matched": "符合筛选条件", "no_consent": "未纳入：未同意营销",
                "cap": "未纳入：频次上限期内已被其他活动触达", "no_email": "未纳入：无电子邮件地址",
                "no_phone": "未纳入：无电话号码", "audience": "受众"},
}


def _breakdown_rows(page) -> dict[str, str]:
    rows = page.locator("#audience-breakdown tr")
    return {rows.nth(i).locator("th").inner_text(): rows.nth(i).locator("td").inner_text()
            for i in range(rows.count())}


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_the_audience_preview_says_who_each_rule_left_out(page, login, role_user, language, tmp_path):
    """The issue's case: the list shows 15 high-risk, high-value customers; the preview 5, and
    now says that 5 lacked marketing consent, 3 were under the frequency cap and 2 had no e-mail."""
    from datetime import timedelta

    from django.utils import timezone

    from campaigns.models import CampaignMember
    from customers.models import Customer

    words = WHO_WORDS[language]
    consenting = make_customers(10, value_tier="high", churn_risk="high", churn_probability=0.8)
    make_customers(5, start=100, consent=False, value_tier="high", churn_risk="high", churn_probability=0.8)
    make_customers(10, start=200, value_tier="low", churn_risk="high", churn_probability=0.7)
    earlier = Campaign.objects.create(name="Earlier", objective="retention", status=Campaign.Status.RUNNING,
                                      launched_at=timezone.now() - timedelta(days=3))
    CampaignMember.objects.bulk_create([CampaignMember(campaign=earlier, customer=c, group="treatment")
                                        for c in consenting[:3]])
    Customer.objects.filter(pk__in=[c.pk for c in consenting[3:5]]).update(email="", phone="")
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    login(role_user("Sales"))
    page.goto("/campaigns/new/")
    if language != "en":
        switch_language(page, language)
    page.locator("#id_a-value_tiers").get_by_label(words["high"], exact=True).check()
    page.locator("#id_a-churn_risks").get_by_label(words["high"], exact=True).check()
    page.wait_for_function("document.getElementById('preview-size').textContent === '5'")
    assert _breakdown_rows(page) == {
        words["matched"]: "15", words["no_consent"]: "−5", words["cap"]: "−3", words["no_email"]: "−2",
        next(k for k in _breakdown_rows(page) if k not in words.values()): "0",  # invalid e-mail
        words["audience"]: "5"}
    page.screenshot(path=str(tmp_path / f"audience-breakdown-{language}.png"), full_page=True)
    # An SMS needs a phone number instead: the same two customers lack one too.
    page.select_option("#id_c-channel", "sms")
    page.wait_for_function(
        "document.querySelector('#audience-breakdown [data-rule=no_phone]') !== null")
    rows = _breakdown_rows(page)
    assert rows[words["no_phone"]] == "−2" and words["no_email"] not in rows and rows[words["audience"]] == "5"
    # No frequency cap: those three come back.
    page.fill("#id_c-frequency_cap_days", "0")
    page.wait_for_function("document.getElementById('preview-size').textContent === '8'")
    assert words["cap"] not in _breakdown_rows(page)
    # The offer fields the profit rule reads are hidden inputs, not labels in English.
    assert "Uplift" not in page.locator("#campaign-form").inner_text()
    assert errors == []


def test_the_churn_risk_option_picks_the_customer_lists_band(page, login, role_user):
    """No guessing 0.6 in "Churn probability from": the band the customer list filters by."""
    from customers.filters import CustomerListFilter
    from customers.models import Customer

    make_customers(30)  # churn probabilities 0.0 to 0.9, stored bands as the engine set them
    Customer.objects.filter(churn_probability__gte=0.6).update(churn_risk="high")
    Customer.objects.filter(churn_probability__lt=0.6, churn_probability__gte=0.3).update(churn_risk="medium")
    Customer.objects.filter(churn_probability__lt=0.3).update(churn_risk="low")
    sales = role_user("Sales")
    listed = CustomerListFilter({"churn_risk": "high"}, queryset=Customer.objects.live(), user=sales).qs.count()
    assert listed == 12
    login(sales)
    page.goto("/campaigns/new/")
    group = page.locator("#id_a-churn_risks")
    assert "high from 60 % churn probability, medium from 30 %" in page.locator(
        "#id_a-churn_risks + .helptext").inner_text()
    group.get_by_label("High", exact=True).check()
    page.wait_for_function(f"document.getElementById('preview-size').textContent === '{listed}'")
    page.fill("#id_c-name", "High risk")
    page.select_option("#id_c-objective", "retention")
    with page.expect_navigation():
        page.click("button[type=submit]:has-text('Save draft')")
    campaign = Campaign.objects.get(name="High risk")
    assert campaign.audience["churn_risks"] == ["high"]
    switch_language(page, "zh-hans")
    page.goto(f"/campaigns/{campaign.pk}/edit/")
    assert page.locator("#id_a-churn_risks").get_by_label("高", exact=True).is_checked()
    assert "流失概率 60 % 及以上为高" in page.locator("#id_a-churn_risks + .helptext").inner_text()


@pytest.mark.parametrize(("language", "lift"), [("en", "(lift 3.50)"), ("zh-hans", "（提升度 3.50）")])
def test_the_bundle_dropdown_names_products(page, login, role_user, language, lift):
    """The Bundle select offers "Green tea + Honey -> Tea cup", not the rule's product ids."""
    from django.utils import timezone

    from analytics.models import AssociationRule, ScoreRun

    tea, honey, cup = (ProductFactory(name=name) for name in ("Green tea", "Wildflower honey", "Tea cup"))
    run = ScoreRun.objects.create(kind="full", as_of=timezone.now(), status="succeeded")
    AssociationRule.objects.create(run=run, antecedents=[tea.pk, honey.pk], consequents=[cup.pk],
                                   support=0.05, confidence=0.4, lift=3.5)
    login(role_user("Sales"))
    if language != "en":
        switch_language(page, language)
    page.goto("/campaigns/new/")
    labels = [text.strip() for text in page.locator("#id_c-bundle option").all_text_contents()]
    assert f"Green tea + Wildflower honey -> Tea cup {lift}".replace(" （", "（") in labels, labels
    assert not any(f"[{tea.pk}" in label or f"{cup.pk}]" in label for label in labels)


def test_the_results_csv_lists_offered_products_by_name(page, login, role_user, tmp_path):
    """The members' CSV names the offered products ("Tea cup; Tea pot"); the ids keep a column of
    their own for spreadsheets that join on them. Downloaded from the results page in English and
    Chinese."""
    import csv

    from django.utils import timezone

    from campaigns.models import CampaignMember

    cup, pot = ProductFactory(name="Tea cup"), ProductFactory(name="Tea pot")
    sales = role_user("Sales")
    campaign = Campaign.objects.create(name="Cups", objective="upsell", status="running", created_by=sales,
                                       launched_at=timezone.now(), launched_by=sales)
    for i, group in enumerate(("treatment", "control")):
        CampaignMember.objects.create(campaign=campaign, customer=CustomerFactory(name=f"Buyer {i}"), group=group,
                                      offered_products=[cup.pk, pot.pk] if group == "treatment" else [])
    login(sales)
    for language, link in (("en", "Download CSV"), ("zh-hans", "下载 CSV")):
        page.goto(f"/campaigns/{campaign.pk}/results/")
        if language != "en":
            switch_language(page, language)
        with page.expect_download() as download:
            page.get_by_role("link", name=link).click()
        path = tmp_path / f"results-{language}.csv"
        download.value.save_as(path)
        rows = {row["customer"]: row for row in csv.DictReader(path.open(encoding="utf-8"))}
        assert rows["Buyer 0"]["offered_products"] == "Tea cup; Tea pot"
        assert rows["Buyer 0"]["offered_product_ids"] == f"{cup.pk} {pot.pk}"
        assert rows["Buyer 1"]["offered_products"] == ""
