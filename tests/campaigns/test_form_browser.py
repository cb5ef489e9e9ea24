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
    buyer = CustomerFactory(name="Honey buyer", marketing_consent=True, expected_orders_90d=0.3)
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
