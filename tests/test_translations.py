"""The Chinese catalogue: every string translated, nothing fuzzy, and the committed .mo in step.

The product ships compiled message files so that no gettext tools are needed at run time; a
string added to the code but not to the catalogue, or a .po edited without recompiling, would
show English in the Chinese UI without any error.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from django.utils import translation

CATALOGUE = Path(__file__).resolve().parent.parent / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"


def _entries() -> list[dict]:
    """Parse the .po into entries with flags, msgid, msgid_plural and msgstr(s)."""
    entries, current, key = [], None, None
    for line in CATALOGUE.read_text(encoding="utf-8").splitlines() + [""]:
        if not line.strip():
            if current and "msgid" in current:
                entries.append(current)
            current, key = None, None
            continue
        current = current or {"flags": set(), "obsolete": False}
        if line.startswith("#~"):
            current["obsolete"] = True
            continue
        if line.startswith("#,"):
            current["flags"].update(flag.strip() for flag in line[2:].split(","))
            continue
        if line.startswith("#"):
            continue
        match = re.match(r'^(msgctxt|msgid_plural|msgid|msgstr(?:\[\d+\])?) (".*")$', line)
        if match:
            key = match.group(1)
            current[key] = ast.literal_eval(match.group(2))
        elif line.startswith('"') and key:
            current[key] += ast.literal_eval(line)
    return [e for e in entries if not e["obsolete"] and e["msgid"]]


def test_every_string_is_translated_and_none_is_fuzzy():
    entries = _entries()
    assert len(entries) > 500
    fuzzy = [e["msgid"] for e in entries if "fuzzy" in e["flags"]]
    untranslated = [e["msgid"] for e in entries
                    if not any(v for k, v in e.items() if k.startswith("msgstr"))]
    assert fuzzy == [] and untranslated == []


def test_the_compiled_catalogue_matches_the_source():
    with translation.override("zh-hans"):
        stale = []
        for entry in _entries():
            if "msgid_plural" in entry or "msgctxt" in entry:
                continue
            if translation.gettext(entry["msgid"]) != entry["msgstr"]:
                stale.append(entry["msgid"])
    assert stale == [], "recompile: python manage.py compilemessages"


GETTEXT_NAMES = {"_", "gettext", "gettext_lazy", "gettext_noop", "ngettext", "ngettext_lazy",
                 "pgettext", "pgettext_lazy"}
PROJECT_DIRS = ("analytics", "campaigns", "core", "customers", "intake", "webhooks", "crm_site")


def _python_msgids() -> dict[str, str]:
    """Every string literal passed to a gettext function in the project's Python code."""
    root = CATALOGUE.parent.parent.parent.parent
    found = {}
    for directory in PROJECT_DIRS:
        for path in (root / directory).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not isinstance(node, ast.Call):
                    continue
                name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
                if name not in GETTEXT_NAMES:
                    continue
                first = 1 if name.startswith("pgettext") else 0
                for arg in node.args[first:first + (2 if name.startswith("ngettext") else 1)]:
                    if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and arg.value:
                        found[arg.value] = f"{path.relative_to(root)}:{node.lineno}"
    return found


def test_every_gettext_call_in_python_has_a_translation():
    """Strings built in Python (labels, rules, explanations) must be in the catalogue too; the
    template checks above cannot see them."""
    catalogue = set()
    for entry in _entries():
        if any(v for k, v in entry.items() if k.startswith("msgstr")):
            catalogue.add(entry["msgid"])
            if "msgid_plural" in entry:
                catalogue.add(entry["msgid_plural"])
    missing = {msgid: where for msgid, where in _python_msgids().items() if msgid not in catalogue}
    assert missing == {}


def test_strings_built_in_python_render_in_chinese():
    from django.apps import apps

    from analytics.templatetags.analytics_tags import segment_rule

    with translation.override("zh-hans"):
        rule = segment_rule("high value: more than 95 spent and at most 3 orders")
        assert rule == "高价值：消费超过 95；最多 3 笔订单"
        assert str(apps.get_app_config("customers").verbose_name) == "客户"
        assert not re.search(r"[A-Za-z]{3,}", str(apps.get_app_config("intake").verbose_name))


@pytest.mark.django_db
def test_day_and_order_counts_choose_their_plural_form(client, role_user, settings):
    """"at most 1 order", "deleted after 1 day": counts outside the customer and campaign pages
    go through ngettext (a segment rule, the import page once its files have expired)."""
    from django.utils import timezone

    from analytics.templatetags.analytics_tags import segment_rule
    from intake.models import ImportJob

    with translation.override("en"):
        assert (segment_rule("low value: at most 1 orders and last order more than 1 days ago")
                == "Low value: at most 1 order; last order more than 1 day ago")
        assert (segment_rule("high value: more than 1,200 orders and ordered within the last 2 days")
                == "High value: more than 1,200 orders; ordered within the last 2 days")
        assert segment_rule("high value: more than 1 orders") == "High value: more than 1 order"
    with translation.override("zh-hans"):
        assert segment_rule("low value: at most 1 orders") == "低价值：最多 1 笔订单"

    settings.IMPORT_RETENTION_DAYS = 1
    sales = role_user("Sales")
    job = ImportJob.objects.create(kind="customers", created_by=sales, status="succeeded",
                                   files_deleted_at=timezone.now())
    client.force_login(sales)
    page = client.get(f"/data/import/{job.pk}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "deleted after 1 day." in page
    assert client.get(f"/data/import/{job.pk}/file/").status_code == 404
