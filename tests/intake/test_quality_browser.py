"""The data quality page in a real browser: a Manager reaches it from the navigation and follows
its links; Sales and Service staff get 403 and see no link to it."""
from datetime import date
from decimal import Decimal

import pytest
from django.utils import timezone

from intake.models import ImportJob
from tests.factories import CustomerFactory, OrderFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_manager_opens_the_data_quality_page(page, login, role_user, tmp_path):
    manager = role_user("Manager")
    CustomerFactory(external_id="C1", name="Zhang Wei", email="zw@example.com", city="上海")
    twin = CustomerFactory(external_id="C2", name="Zhang Wei", email="zw@example.com")
    CustomerFactory(external_id="C3", name="Li Na", birth_date=date(1901, 1, 1))  # > 120 years, >= 1900
    OrderFactory(external_id="O1", customer=twin, ordered_at=timezone.now(), total_amount=Decimal("5000000"))
    job = ImportJob.objects.create(kind="customers", original_name="crm-export.csv", status="succeeded",
                                   total=3, created=3, created_by=manager)
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    login(manager)
    page.click("nav.mainnav a:has-text('Data quality')")
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == "Data quality"
    assert page.locator("#duplicate-pairs").inner_text() == "1"
    row = page.locator("#quality-customers tr[data-check='range-birth_date_too_old'] td")
    assert row.nth(1).inner_text() == "1"
    assert page.locator("#quality-orders tr[data-check='range-amount_absurd'] td").nth(1).inner_text() == "1"
    assert page.locator("#quality-customers tr[data-check='missing-email'] td").nth(2).inner_text() == "33.3 %"
    page.screenshot(path=str(tmp_path / "quality-en.png"), full_page=True)
    with page.expect_navigation():
        page.click("#quality-imports a:has-text('crm-export.csv')")
    assert page.url.endswith(f"/data/import/{job.pk}/")
    page.goto("/data/quality/")
    with page.expect_navigation():
        page.click("text=Review duplicates")
    assert page.url.endswith("/data/duplicates/")
    assert errors == []


@pytest.mark.parametrize("role", ["Service", "Sales"])
def test_other_roles_get_403(page, login, role_user, role):
    login(role_user(role))
    assert page.locator("nav.mainnav a:has-text('Data quality')").count() == 0
    response = page.goto("/data/quality/")
    assert response.status == 403
    assert page.request.get("/api/data-quality/").status == 403
