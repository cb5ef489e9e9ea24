"""The one-sentence headline at the top of the customer 360: the customer's situation and the
suggested next action, from the stored score fields the page shows below it.

Rules, first match wins (``outreach`` marks an action that contacts the customer):

1. No orders -- lifecycle stage ``prospect``, or an analysed customer (a stage is stored) with
   no orders and no churn score: a welcome offer for a first purchase (outreach); none if their
   status is "churned" (they left before ever ordering). Never a retention call, a retention or
   win-back offer: there is nothing to retain. A customer without orders whom the churn model
   did score (a contract business: the explicit churn model reads status and imported
   attributes, see analytics.engine.churn) holds a contract to keep, and the rules below apply.
2. Status "churned" -- staff or the customer said so explicitly: a win-back offer (outreach),
   whatever the scores (the churn model does not need to score someone known to have left).
3. Not scored -- ``churn_risk`` or ``churn_probability`` is empty: say so, and suggest nothing
   ("not scored yet").
4. Churn risk high -- a personal retention call from the account owner when the value tier is
   high (the value segment when there is no tier); otherwise a win-back offer when the stage is
   already "churned", else a retention offer (all outreach).
5. Churn risk medium or low, stage "at risk" or "churned" (they have gone quiet against their
   own rhythm even if the band is not high) -- a friendly check-in with products they may like
   (outreach), never "nothing to do".
6. Churn risk medium or low, one order so far (or stage "new") -- a nudge towards a second
   purchase (outreach).
7. Churn risk medium -- a check-in (outreach). Churn risk low -- nothing to do for now.

Marketing consent: every outreach action becomes "no offer, as they have not given marketing
consent" when ``marketing_consent`` is false.

Consistency with the page. The action is chosen from the risk band first, and the sentence
always states the band with the same words and percentage as the churn line ("Churn risk high
(72 %)"), so it can never call a high-risk customer safe, even when the lifecycle stage says
"active". The stage, the value tier, the order count and the days since the last order are
quoted exactly as stored, never re-derived, so they match the cards below.
"""
from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import ngettext, pgettext

from customers.models import Customer, CustomerStatus, Level, LifecycleStage

NOT_SCORED = "not_scored"
RETENTION_CALL = "retention_call"
RETENTION_OFFER = "retention_offer"
WIN_BACK = "win_back"
SECOND_PURCHASE = "second_purchase"
WELCOME = "welcome"
CHECK_IN = "check_in"
NOTHING = "nothing"
NO_CONSENT = "no_consent"
LEFT_BEFORE_ORDERING = "left_before_ordering"

OUTREACH = frozenset({RETENTION_CALL, RETENTION_OFFER, WIN_BACK, SECOND_PURCHASE, WELCOME, CHECK_IN})


def _is_prospect(customer: Customer) -> bool:
    """No orders: the prospect stage, or a stored stage (so the analysis has seen the customer)
    with no order count, and no churn score. A customer never analysed has no order count
    either, but may have orders: that is "not scored", not a prospect. A contract customer
    scored without orders is not a prospect either."""
    if customer.lifecycle_stage == LifecycleStage.PROSPECT:
        return True
    no_orders = customer.order_count == 0 or (customer.order_count is None
                                              and customer.lifecycle_stage is not None)
    return no_orders and not _is_scored(customer)


def _value_level(customer: Customer) -> str | None:
    return customer.value_tier or customer.value_segment


def _is_scored(customer: Customer) -> bool:
    return customer.churn_risk is not None and customer.churn_probability is not None


def headline_action(customer: Customer) -> str:
    """The suggested next action (one of the constants above), by the rules of the module
    docstring."""
    if _is_prospect(customer):
        action = LEFT_BEFORE_ORDERING if customer.status == CustomerStatus.CHURNED else WELCOME
    elif customer.status == CustomerStatus.CHURNED:
        action = WIN_BACK
    elif not _is_scored(customer):
        return NOT_SCORED
    else:
        action = _action_from_risk(customer)
    if action in OUTREACH and not customer.marketing_consent:
        return NO_CONSENT
    return action


def _action_from_risk(customer: Customer) -> str:
    first_order_only = customer.order_count == 1 or customer.lifecycle_stage == LifecycleStage.NEW
    if customer.churn_risk == Level.HIGH:
        if _value_level(customer) == Level.HIGH:
            return RETENTION_CALL
        return WIN_BACK if customer.lifecycle_stage == LifecycleStage.CHURNED else RETENTION_OFFER
    if customer.lifecycle_stage in (LifecycleStage.AT_RISK, LifecycleStage.CHURNED):
        return CHECK_IN
    if first_order_only:
        return SECOND_PURCHASE
    return CHECK_IN if customer.churn_risk == Level.MEDIUM else NOTHING


def _action_text(action: str) -> str:
    return {
        RETENTION_CALL: _("a personal retention call from their account owner"),
        RETENTION_OFFER: _("a retention offer before they lapse"),
        WIN_BACK: _("a win-back offer"),
        SECOND_PURCHASE: _("a nudge towards a second purchase"),
        WELCOME: _("a welcome offer for a first purchase"),
        CHECK_IN: _("a friendly check-in with products they may like"),
        NOTHING: _("nothing to do for now"),
        NO_CONSENT: _("no offer, as they have not given marketing consent; look after them well "
                      "when they next get in touch"),
        LEFT_BEFORE_ORDERING: _("no offer, as they are marked as churned and have never ordered"),
    }[action]


def risk_clause(customer: Customer) -> str:
    """The churn band and probability in the words of the churn line on the same page."""
    return _("Churn risk %(risk)s (%(p).0f %%)") % {
        "risk": str(customer.get_churn_risk_display()).lower(), "p": customer.churn_probability * 100}


def _who(customer: Customer) -> str:
    if _is_prospect(customer):
        if customer.lifecycle_stage in (None, LifecycleStage.PROSPECT):
            return _("a prospect with no orders yet")
        return _("a customer in the %(stage)s stage with no orders yet") % {
            "stage": str(customer.get_lifecycle_stage_display()).lower()}
    value = _value_level(customer)
    value_label = str(Level(value).label).lower() if value else None
    stage = customer.get_lifecycle_stage_display() if customer.lifecycle_stage else None
    stage = str(stage).lower() if stage else None
    if value_label and stage:
        return _("a %(value)s-value customer in the %(stage)s stage") % {"value": value_label, "stage": stage}
    if value_label:
        return _("a %(value)s-value customer") % {"value": value_label}
    if stage:
        return _("a customer in the %(stage)s stage") % {"stage": stage}
    return _("a customer")


def _history(customer: Customer) -> str | None:
    n = customer.order_count
    if not n:
        return None
    if customer.recency_days is None:
        return ngettext("%(n)d order", "%(n)d orders", n) % {"n": n}
    ago = ngettext("%(days)d day ago", "%(days)d days ago", customer.recency_days) % {"days": customer.recency_days}
    return ngettext("%(n)d order, placed %(ago)s", "%(n)d orders, the last one %(ago)s", n) % {"n": n, "ago": ago}


def customer_headline(customer: Customer) -> str:
    """One sentence: the situation (risk band, who they are, their orders) and the next action."""
    action = headline_action(customer)
    if action == NOT_SCORED:
        return _("Not scored yet: they have no orders, or the analysis has not run since their latest "
                 "data, so there is no suggestion until it has.")
    parts = [_who(customer)]
    if customer.status == CustomerStatus.CHURNED and customer.lifecycle_stage != LifecycleStage.CHURNED:
        parts.append(_("marked as churned"))
    history = _history(customer)
    if history:
        parts.append(history)
    situation = pgettext("list separator in a sentence", ", ").join(parts)
    if _is_scored(customer):
        situation = _("%(risk)s: %(situation)s") % {"risk": risk_clause(customer), "situation": situation}
    else:
        situation = situation[:1].upper() + situation[1:]
    return _("%(situation)s — suggested next action: %(action)s.") % {
        "situation": situation, "action": _action_text(action)}
