"""Accessibility of the main pages, checked by axe-core in a real browser (issue 16, "Done when"):
for each role in English and Chinese, no serious or critical violation on the dashboard, the
customer list (with the complaint filters) and page, a service agent's My work, the campaign list,
form and results, the feedback and other analytics pages and the login page, on a laptop and, for
the pages staff use on the move, on a phone with the menu open.

axe-core is served from the project's own static files (static/vendor/axe-core, version in its
README) and injected into each page; no page of the product loads it.
"""
from __future__ import annotations

import pytest
from django.conf import settings

from tests.pages.ui_data import campaign_world, scored_world

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

AXE = f"{settings.STATIC_URL}vendor/axe-core/axe.min.js"
# Every rule axe has (WCAG 2.0-2.2 A and AA, and its best practices); what fails the test is a
# violation axe rates serious or critical.
RUN_AXE = """async () => {
  const result = await axe.run(document, {resultTypes: ["violations"]});
  return result.violations.filter(v => v.impact === "serious" || v.impact === "critical").map(v =>
    ({rule: v.id, impact: v.impact, help: v.help,
      nodes: v.nodes.slice(0, 3).map(n => n.target.join(" ") + ": " + n.failureSummary)}));
}"""


def switch_language(page, code: str) -> None:
    with page.expect_navigation():
        page.select_option("#language", code)


def serious_violations(page) -> list[dict]:
    page.add_script_tag(url=AXE)
    page.wait_for_function("typeof window.axe !== 'undefined'")
    return page.evaluate(RUN_AXE)


def main_pages(customer_id: int, campaign_id: int) -> list[str]:
    # "/" is My work for the Service role and the dashboard for the others; both have their own URL.
    return ["/", "/dashboard/", "/campaigns/my-work/", "/customers/",
            "/customers/?complaint_reason=delivery&negative_feedback_days=90", f"/customers/{customer_id}/",
            f"/customers/{customer_id}/?orders=all", "/campaigns/", "/campaigns/new/",
            f"/campaigns/{campaign_id}/", f"/campaigns/{campaign_id}/results/", "/campaigns/tasks/",
            "/analytics/feedback/", "/analytics/segments/", "/analytics/churn/", "/analytics/clv/",
            "/analytics/bundles/", "/analytics/forecast/", "/analytics/accuracy/", "/analytics/runs/",
            "/campaigns/uplift/"]


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_the_login_page_has_no_serious_violation(page, language):
    page.goto("/login/")
    if language != "en":
        switch_language(page, language)
    assert page.locator("html").get_attribute("lang") == language
    assert serious_violations(page) == []


@pytest.mark.parametrize("language", ["en", "zh-hans"])
@pytest.mark.parametrize("role", ["Manager", "Sales", "Service"])
def test_the_main_pages_have_no_serious_violation(page, login, role_user, role, language):
    _run, customers = scored_world(6)
    user = role_user(role)
    campaign = campaign_world(role_user("Manager", "campaign-owner"))
    page.emulate_media(reduced_motion="reduce")
    login(user)
    if language != "en":
        switch_language(page, language)
    found, opened = {}, 0
    for url in main_pages(customers[0].pk, campaign.pk):
        response = page.goto(url)
        # A page outside the role answers with the styled 403 page, which is checked too.
        assert response.status in (200, 403), (url, response.status)
        opened += response.status == 200
        assert page.locator("html").get_attribute("lang") == language
        violations = serious_violations(page)
        if violations:
            found[url] = violations
    assert opened >= 5  # each role opens most of these pages
    assert found == {}


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_phone_pages_with_the_menu_open_have_no_serious_violation(page, login, role_user, language):
    """On a phone wide tables scroll inside their box, which must then take the keyboard focus."""
    _run, customers = scored_world(6)
    manager = role_user("Manager")
    campaign = campaign_world(manager)
    login(manager)
    if language != "en":
        switch_language(page, language)
    page.set_viewport_size({"width": 390, "height": 844})
    found = {}
    for url in ("/", "/campaigns/my-work/", "/customers/", f"/customers/{customers[0].pk}/", "/campaigns/", "/campaigns/new/",
                f"/campaigns/{campaign.pk}/", f"/campaigns/{campaign.pk}/results/", "/analytics/bundles/",
                "/analytics/segments/", "/analytics/accuracy/"):
        page.goto(url)
        page.locator("button.menu-toggle").click()
        if url == "/customers/":
            page.locator("#filter-toggle").click()
        violations = serious_violations(page)
        if violations:
            found[url] = violations
    assert found == {}
