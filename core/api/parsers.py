"""The API's JSON parser: refuses strings no database or JSON encoder can hold.

JSON may spell a lone UTF-16 surrogate (``"\\ud800"``); Python decodes it into a ``str`` that
cannot be encoded as UTF-8. Accepted, it reached a choice field's error message or a text column
and the request ended in a 500 (``UnicodeEncodeError``). Refused here, it is a 400 naming the
field, in the one error shape.
"""
from __future__ import annotations

import re
from typing import Any

from django.utils.translation import gettext as _
from rest_framework import exceptions, parsers

_SURROGATE = re.compile("[\ud800-\udfff]")


def _surrogate_paths(value: Any, path: str = "") -> list[str]:
    if isinstance(value, str):
        return [path or "non_field_errors"] if _SURROGATE.search(value) else []
    found: list[str] = []
    if isinstance(value, dict):
        for key, inner in value.items():
            name = f"{path}.{key}" if path else str(key)
            if isinstance(key, str) and _SURROGATE.search(key):
                found.append(path or "non_field_errors")
            found.extend(_surrogate_paths(inner, name))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            found.extend(_surrogate_paths(inner, f"{path}.{index}" if path else str(index)))
    return found


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        data = super().parse(stream, media_type, parser_context)
        paths = _surrogate_paths(data)
        if paths:
            message = _("Contains an unpaired surrogate (\\ud800-\\udfff), which is not text.")
            raise exceptions.ParseError({path: [message] for path in paths})
        return data
