"""Campaign messages: rendering the templates staff write, in a sandbox, for one member.

Templates use Django's template language on an engine of their own: no loaders (so no
``include``/``extends`` of project files), no tag libraries to ``load``, and a context of plain
strings, numbers, lists and dicts built here, never model instances, so a template cannot reach
anything but the member's name, coupon, offer and the sender's details. The HTML part is
autoescaped; the subject and plain-text parts are not (they are not HTML).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache

from django.conf import settings
from django.template import Context, Engine, TemplateSyntaxError
from django.utils import translation
from django.utils.html import escape, linebreaks
from django.utils.translation import gettext as _

LANGUAGES = ("en", "zh-hans")
# Tags that would read files, load code or dump the process's state.
FORBIDDEN_TAGS = re.compile(r"{%-?\s*(load|include|extends|debug|ssi|csrf_token|templatetag)\b")

_HTML_ENGINE = Engine(loaders=[], libraries={}, autoescape=True, debug=False, string_if_invalid="")
_TEXT_ENGINE = Engine(loaders=[], libraries={}, autoescape=False, debug=False, string_if_invalid="")

# Used when a campaign has no template of its own in any language.
DEFAULT_TEMPLATES = {
    "en": {
        "subject": "{{ name }}, a little something for you",
        "body_text": (
            "Dear {{ name }},\n\n"
            "{% if coupon %}Your personal code {{ coupon }} gives you {{ discount }} % off.\n\n{% endif %}"
            "{% if products %}Picked for you:\n{% for p in products %}- {{ p.name }}: {{ p.price }}"
            "{% if p.url %} {{ p.url }}{% endif %}\n{% endfor %}\n{% endif %}"
            "Kind regards,\n{{ sender.name }}"),
    },
    "zh-hans": {
        "subject": "{{ name }}，为您准备的一份心意",
        "body_text": (
            "亲爱的{{ name }}：\n\n"
            "{% if coupon %}您的专属优惠码 {{ coupon }} 可享 {{ discount }}% 折扣。\n\n{% endif %}"
            "{% if products %}为您精选：\n{% for p in products %}- {{ p.name }}：{{ p.price }}"
            "{% if p.url %} {{ p.url }}{% endif %}\n{% endfor %}\n{% endif %}"
            "此致\n{{ sender.name }}"),
    },
}
CURRENCY_SYMBOLS = {"CNY": "¥", "RMB": "¥", "USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "HKD": "HK$"}


@dataclass(frozen=True)
class Template:
    language: str
    subject: str
    body_text: str
    body_html: str = ""


@dataclass(frozen=True)
class RenderedMessage:
    language: str
    subject: str
    text: str
    html: str


def template_errors(*, subject: str, body_text: str, body_html: str) -> dict[str, str]:
    """Field -> reason for each part that is not a valid, allowed template."""
    errors = {}
    for field, source, engine in (("subject", subject, _TEXT_ENGINE), ("body_text", body_text, _TEXT_ENGINE),
                                  ("body_html", body_html, _HTML_ENGINE)):
        match = FORBIDDEN_TAGS.search(source or "")
        if match:
            errors[field] = _("The tag %(tag)s is not allowed in messages.") % {"tag": match.group(1)}
            continue
        try:
            engine.from_string(source or "")
        except TemplateSyntaxError as exc:
            errors[field] = _("Template error: %(error)s") % {"error": exc}
    return errors


def format_price(amount: Decimal | float | None) -> str:
    if amount is None:
        return ""
    # The one currency of every amount in the data (settings.CURRENCY, an ISO 4217 code).
    currency = settings.CURRENCY
    figure = f"{Decimal(amount):,.2f}"
    symbol = CURRENCY_SYMBOLS.get(currency.upper())
    return f"{symbol}{figure}" if symbol else f"{figure} {currency}"


def product_entry(*, name: str, sku: str, price) -> dict:
    pattern = settings.CAMPAIGN_PRODUCT_URL
    return {"name": name, "price": format_price(price),
            "url": pattern.replace("{sku}", sku) if pattern else ""}


def sender() -> dict:
    return {"name": settings.CAMPAIGN_SENDER_NAME, "address": settings.CAMPAIGN_SENDER_ADDRESS,
            "email": settings.DEFAULT_FROM_EMAIL}


def member_context(*, name: str, coupon: str | None, discount, products: list[dict],
                   unsubscribe_url: str) -> dict:
    """Everything a template may use; plain values only (see the module docstring)."""
    return {"name": name, "coupon": coupon or "", "discount": f"{Decimal(discount or 0).normalize():f}",
            "products": products, "sender": sender(), "unsubscribe_url": unsubscribe_url}


def choose_template(templates: dict[str, Template], language: str) -> Template:
    """The customer's language, else the site's default language, else any the campaign has,
    else the built-in default in the customer's (or the default) language."""
    default = settings.LANGUAGE_CODE.lower()
    for candidate in (language, default):
        if candidate in templates:
            return templates[candidate]
    if templates:
        return templates[sorted(templates)[0]]
    chosen = language if language in DEFAULT_TEMPLATES else (default if default in DEFAULT_TEMPLATES else "en")
    return Template(language=chosen, **DEFAULT_TEMPLATES[chosen])


@lru_cache(maxsize=64)
def _compiled(source: str, html: bool):
    """A campaign's few templates are compiled once per process, not once per member."""
    return (_HTML_ENGINE if html else _TEXT_ENGINE).from_string(source)


def render(template: Template, context: dict) -> RenderedMessage:
    """Subject, plain text and HTML for one member, with the unsubscribe footer on both parts
    (added whatever the template says, so no marketing message goes out without it)."""
    text_context = Context(context, autoescape=False)
    subject = " ".join(_compiled(template.subject, False).render(text_context).split())
    text = _compiled(template.body_text, False).render(Context(context, autoescape=False))
    if template.body_html:
        html = _compiled(template.body_html, True).render(Context(context))
    else:
        html = linebreaks(escape(text))
    who = context["sender"]
    with translation.override(template.language):
        footer = _("You receive this because you agreed to hear from %(sender)s. "
                   "Unsubscribe: %(url)s") % {"sender": who["name"], "url": context["unsubscribe_url"]}
        link = _('<a href="%(url)s">Unsubscribe</a> from these messages.') % {
            "url": escape(context["unsubscribe_url"])}
    address = who["address"]
    text = f"{text.rstrip()}\n\n--\n{footer}\n{address}".rstrip() + "\n"
    html = (f"{html}\n<hr><p style=\"font-size:small;color:#666\">{link}<br>{escape(address)}</p>")
    return RenderedMessage(language=template.language, subject=subject, text=text, html=html)


def render_sms(template: Template, context: dict) -> str:
    """An SMS: the plain-text body with a short opt-out line."""
    text = _compiled(template.body_text, False).render(Context(context, autoescape=False))
    with translation.override(template.language):
        opt_out = _("Stop: %(url)s") % {"url": context["unsubscribe_url"]}
    return f"{' '.join(text.split())} {opt_out}"
