"""The dashboard, a customer 360 and the analytics pages in a real browser, in English and
Chinese, at laptop and tablet widths."""
import pytest

from analytics.services.figures import wordclouds_store
from tests.pages.ui_data import scored_world

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _still_charts(page):
    # Reduced motion turns Chart.js animation off (static/js/charts.js): screenshots show the
    # finished charts, and the preference itself is honoured.
    page.emulate_media(reduced_motion="reduce")


def chart_count(page) -> int:
    return page.evaluate("Object.keys(Chart.instances).length")


def switch_language(page, code: str) -> None:
    with page.expect_navigation():
        page.select_option("#language", code)


def test_dashboard_and_customer_360_render_charts_in_both_languages(page, login, role_user, tmp_path):
    _run, customers = scored_world(6)
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    login(role_user("Manager"))

    assert page.locator("h1").inner_text() == "Dashboard"
    assert page.locator("canvas[data-chart]").count() == 6
    assert chart_count(page) == 6
    assert page.locator("#kpi-customers .value").inner_text() == "6"
    page.screenshot(path=str(tmp_path / "dashboard-en.png"), full_page=True)

    page.goto(f"/customers/{customers[0].pk}/")
    assert "Churn risk high (72 %)" in page.locator("#explain-churn").inner_text()
    assert page.locator("#contact-email").inner_text() == "person0@example.com"
    assert "Churned means a high churn risk" in page.locator("#scores-help").inner_text()
    page.screenshot(path=str(tmp_path / "customer-en.png"), full_page=True)

    switch_language(page, "zh-hans")
    assert page.locator("html").get_attribute("lang") == "zh-hans"
    assert "流失风险高" in page.locator("#explain-churn").inner_text()
    assert "“已流失”指流失风险高" in page.locator("#scores-help").inner_text()
    assert page.locator("#orders h2").inner_text() == "2 笔订单"
    page.screenshot(path=str(tmp_path / "customer-zh.png"), full_page=True)

    page.goto("/")
    assert page.locator("h1").inner_text() == "仪表盘"
    assert chart_count(page) == 6
    page.screenshot(path=str(tmp_path / "dashboard-zh.png"), full_page=True)
    assert errors == []


def test_service_sees_masked_contacts_and_feedback_pages(page, login, role_user, tmp_path):
    run, customers = scored_world(3)
    wordclouds_store(run_id=run.pk, timings={})  # as the run does when it finishes
    login(role_user("Service"))
    nav = page.locator("nav.mainnav").inner_text()
    assert "Feedback" in nav and "Segments" not in nav
    page.goto(f"/customers/{customers[0].pk}/")
    assert page.locator("#contact-email").inner_text() == "p***@example.com"

    page.set_viewport_size({"width": 800, "height": 1000})  # a tablet
    page.goto("/analytics/feedback/")
    assert chart_count(page) == 2
    page.wait_for_function("document.querySelector('img[alt=\"Word cloud of English feedback\"]').naturalWidth > 0")
    # No Chinese feedback in this data: an empty state instead of a broken image.
    assert page.locator("img[alt='Word cloud of Chinese feedback']").count() == 0
    assert "No analysed feedback in this language yet." in page.content()
    # Nothing overflows the tablet width.
    assert page.evaluate("document.documentElement.scrollWidth") <= 800
    page.screenshot(path=str(tmp_path / "feedback-tablet.png"), full_page=True)


def test_manager_analytics_pages_and_keyboard_focus(page, login, role_user, tmp_path):
    scored_world(6)
    login(role_user("Manager"))
    for path, charts in (("/analytics/segments/", 1), ("/analytics/churn/", 2), ("/analytics/clv/", 2),
                         ("/analytics/forecast/", 1)):
        page.goto(path)
        assert chart_count(page) == charts, path
        page.screenshot(path=str(tmp_path / (path.strip("/").replace("/", "-") + ".png")), full_page=True)
    page.goto("/customers/")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Tab")
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid"


def test_run_progress_bar_follows_the_run(page, login, role_user):
    from django.utils import timezone

    from analytics.models import ScoreRun

    run = ScoreRun.objects.create(kind="full", as_of=timezone.now(), status="running", progress=30,
                                  stage="churn", lease_expires_at=timezone.now() + timezone.timedelta(minutes=5))
    login(role_user("Manager"))
    page.goto(f"/analytics/runs/{run.pk}/")
    assert page.locator("progress").get_attribute("value") == "30"
    ScoreRun.objects.filter(pk=run.pk).update(progress=70, stage="write")
    page.wait_for_function("document.querySelector('progress').value === 70", timeout=6000)
    assert "70 % · saving results" in page.locator(".progress-text").inner_text()
    ScoreRun.objects.filter(pk=run.pk).update(status="succeeded", progress=100, finished_at=timezone.now())
    # When the run finishes the page reloads and shows the final state.
    page.wait_for_function("document.getElementById('run-status').textContent === 'Succeeded'", timeout=8000)
