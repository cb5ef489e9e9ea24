"""The login flow and the home page in a real browser."""
import pytest

from customers.models import Customer

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_anonymous_visitor_lands_on_login_and_gets_in(page, login, role_user, live_server, tmp_path):
    Customer.objects.create(name="Wang Fang")
    page.goto("/")
    assert "/login/" in page.url
    assert page.locator("h1").inner_text() == "Log in"

    user = role_user("Sales")
    page.fill("#id_username", user.username)
    page.fill("#id_password", "wrong password")
    page.click("button:has-text('Log in')")
    assert page.locator("[role=alert]").is_visible()

    login(user)
    assert page.url == live_server.url + "/"
    assert page.locator("#kpi-customers .value").inner_text() == "1"
    assert "No scores yet" in page.content()
    page.screenshot(path=str(tmp_path / "home.png"))


def test_language_switcher_shows_chinese(page, login, role_user):
    login(role_user("Manager"))
    with page.expect_navigation():
        page.select_option("#language", "zh-hans")
    assert page.locator("html").get_attribute("lang") == "zh-hans"


def test_a_user_makes_an_api_token_from_the_header_and_uses_it(page, login, role_user, live_server, tmp_path):
    import json
    from urllib.request import Request, urlopen

    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    login(role_user("Service"))
    page.click("a:has-text('API token')")
    assert page.locator("#token-state").inner_text() == "You have no API token."
    page.click("button:has-text('Create a token')")
    key = page.locator("#new-token").inner_text()
    page.screenshot(path=str(tmp_path / "api-token.png"))
    request = Request(live_server.url + "/api/customers/", headers={"Authorization": f"Token {key}"})
    with urlopen(request) as response:  # noqa: S310 - the test's own server
        assert response.status == 200 and "results" in json.loads(response.read())
    page.click("button:has-text('Revoke')")
    assert page.locator("#token-state").inner_text() == "You have no API token."
    assert errors == []
