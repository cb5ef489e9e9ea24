"""Issue 16 item 10 in a real browser: the staff pages read in Chinese for each role.

The text checked is what Chromium shows (``innerText``), so labels written by JavaScript (the
campaign form's preview, the run progress) count as well as those rendered on the server. The
allow list of names, codes and terms is tests/test_translations_rendered.py's.
"""
from __future__ import annotations

import pytest

from tests.test_translations_rendered import english_words, staff_world

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# The text on screen, less what the server-side walk also leaves out (visible_text there): code
# and typed text areas are data, a model card's fitted parameters (dl.params without an id) are
# technical identifiers shown folded, and text marked in another language (a message previewed in
# the customer's language) is meant to be in it.
VISIBLE_TEXT = """() => {
  const skipped = "code, textarea, dl.params:not([id]), body [lang]:not([lang^=zh])";
  document.querySelectorAll(skipped).forEach(e => { e.style.display = "none"; });
  return document.body.innerText;
}"""


@pytest.mark.parametrize("role", ["Manager", "Sales", "Service"])
def test_the_staff_pages_read_in_chinese(page, login, role_user, role, tmp_path):
    users, pages = staff_world(role_user)
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    login(users[role])
    with page.expect_navigation():
        page.select_option("#language", "zh-hans")
    found, opened = {}, []
    for url in pages:
        response = page.goto(url)
        page.wait_for_load_state("networkidle")
        assert page.locator("html").get_attribute("lang") == "zh-hans", url
        if response.status == 200:
            opened.append(url)
        words = english_words(page.evaluate(VISIBLE_TEXT))
        if words:
            found[url] = words
    page.goto(pages[0])
    page.screenshot(path=str(tmp_path / f"dashboard-{role}-zh.png"), full_page=True)
    assert found == {}, repr(found)
    assert {"/", "/customers/", "/admin/"} <= set(opened)
    assert errors == []
