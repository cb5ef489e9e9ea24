"""The Chinese catalogue: every string translated, nothing fuzzy, and the committed .mo in step.

The product ships compiled message files so that no gettext tools are needed at run time; a
string added to the code but not to the catalogue, or a .po edited without recompiling, would
show English in the Chinese UI without any error.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

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
