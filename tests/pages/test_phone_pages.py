"""Issue 16 item 9 in a real browser at a phone's width (390 px), in English and Chinese: the
manager's menu folds behind a button that works from the keyboard, the customer list shows its
table first with name, value, churn risk and CLV on screen, and no main page scrolls sideways.
Before, the menu wrapped into a 239 px header and the list's table began about 1,530 px down."""
from __future__ import annotations

import pytest
from django.utils import translation

from campaigns.models import Campaign
from tests.pages.ui_data import scored_world

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
LAPTOP = {"width": 1440, "height": 900}


def switch_language(page, code: str) -> None:
    with page.expect_navigation():
        page.select_option("#language", code)


def on_a_phone(page, login, user, language: str):
    login(user)
    if language != "en":
        switch_language(page, language)  # the switcher is in the menu, open on a laptop
    page.set_viewport_size(PHONE)
    return page


def box(page, selector: str) -> dict:
    return page.locator(selector).first.evaluate(
        "el => { const b = el.getBoundingClientRect(); return {top: b.top + scrollY, left: b.left, right: b.right,"
        " height: b.height}; }")


def page_width(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth")


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_the_menu_folds_on_a_phone_and_opens_from_the_keyboard(page, login, role_user, language):
    scored_world(3)
    on_a_phone(page, login, role_user("Manager"), language)
    page.goto("/")
    toggle = page.locator("button.menu-toggle")
    nav = page.locator("nav.mainnav")
    assert box(page, "header.topbar")["height"] <= 64
    assert toggle.is_visible() and toggle.get_attribute("aria-expanded") == "false"
    assert toggle.get_attribute("aria-controls") == "site-menu"
    assert not nav.is_visible()
    assert box(page, "main h1")["top"] < 120

    # The keyboard: skip link, brand, then the menu button; Enter opens, Tab walks into the
    # links, Escape folds the menu and gives the focus back to the button.
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.classList.contains('menu-toggle')")
    page.keyboard.press("Enter")
    assert toggle.get_attribute("aria-expanded") == "true"
    assert nav.is_visible()
    links = nav.locator("a")
    assert links.count() >= 10
    for i in range(links.count()):
        link = links.nth(i)
        assert link.is_visible()
        assert link.evaluate("el => el.getBoundingClientRect().right") <= PHONE["width"]
    assert page.locator("#language").is_visible()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.closest('nav.mainnav') !== null")
    page.keyboard.press("Escape")
    assert toggle.get_attribute("aria-expanded") == "false"
    assert not nav.is_visible()
    assert page.evaluate("document.activeElement.classList.contains('menu-toggle')")
    assert page_width(page) <= PHONE["width"]

    # On a laptop the bar shows everything and no button.
    page.set_viewport_size(LAPTOP)
    assert nav.is_visible() and not toggle.is_visible()


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_the_customer_list_on_a_phone_starts_with_its_key_columns(page, login, role_user, language):
    scored_world(6)
    on_a_phone(page, login, role_user("Manager"), language)
    page.goto("/customers/")
    panel = page.locator("#filter-panel")
    toggle = page.locator("#filter-toggle")
    assert not panel.is_visible() and toggle.get_attribute("aria-expanded") == "false"
    assert box(page, "table.list")["top"] < 360

    with translation.override(language):
        key_columns = [translation.gettext(t) for t in ("Name", "Value", "Churn", "CLV (12 m)")]
    headers = page.locator("table.list thead th")
    shown = [headers.nth(i).inner_text() for i in range(headers.count()) if headers.nth(i).is_visible()]
    assert shown == key_columns
    wrap = page.locator(".table-wrap").evaluate("el => [el.scrollWidth, el.clientWidth]")
    assert wrap[0] <= wrap[1]  # nothing to scroll sideways for
    first_row = page.locator("table.list tbody tr").first.locator("td")
    visible_cells = [first_row.nth(i) for i in range(first_row.count()) if first_row.nth(i).is_visible()]
    assert len(visible_cells) == 4
    assert all(cell.evaluate("el => el.getBoundingClientRect().right") <= PHONE["width"] for cell in visible_cells)
    assert "%" in visible_cells[2].inner_text() and "¥" in visible_cells[3].inner_text()
    assert page_width(page) <= PHONE["width"]

    toggle.click()
    assert panel.is_visible() and toggle.get_attribute("aria-expanded") == "true"
    assert page.locator("#id_q").is_visible()

    # Filters in use: the panel starts open and says how many.
    page.goto("/customers/?churn_risk=high")
    assert panel.is_visible() and toggle.get_attribute("aria-expanded") == "true"
    assert "1" in toggle.inner_text()

    # On a laptop the filters are always there and every column fits.
    page.set_viewport_size(LAPTOP)
    page.goto("/customers/")
    assert panel.is_visible() and not toggle.is_visible()
    assert headers.nth(1).is_visible()  # the e-mail column
    wrap = page.locator(".table-wrap").evaluate("el => [el.scrollWidth, el.clientWidth]")
    assert wrap[0] <= wrap[1]


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_no_main_page_scrolls_sideways_on_a_phone(page, login, role_user, language):
    _run, customers = scored_world(3)
    manager = role_user("Manager")
    Campaign.objects.create(name="Win back the lapsed big spenders of the spring season", objective="retention",
                            created_by=manager)
    on_a_phone(page, login, manager, language)
    for url in ("/", "/customers/", f"/customers/{customers[0].pk}/", "/campaigns/", "/campaigns/new/"):
        page.goto(url)
        assert page_width(page) <= PHONE["width"], url
    # A table wider than the phone scrolls inside its box, which the keyboard can then focus
    # and scroll (static/js/layout.js).
    page.goto("/campaigns/")
    table = page.locator("table.cmp-table")
    assert table.evaluate("el => el.scrollWidth > el.clientWidth")
    assert table.get_attribute("tabindex") == "0"
    table.focus()
    page.keyboard.press("ArrowRight")
    page.wait_for_function("document.querySelector('table.cmp-table').scrollLeft > 0")
    # Once the window is wide enough it is no tab stop any more.
    page.set_viewport_size(LAPTOP)
    page.wait_for_function("!document.querySelector('table.cmp-table').hasAttribute('tabindex')")
