"""Writes to customer records that web pages, the API, imports and tasks share.

Each service validates, saves inside a transaction, and queues follow-up work only after commit
(a worker must never look for a row that is not committed yet, or that was rolled back).
"""
from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models.functions import Lower
from django.http import QueryDict
from django.utils import timezone
from django.utils.translation import gettext as _

from .events import feedback_text_changed_publish, records_changed_publish
from .models import Customer, Feedback, Interaction, InteractionKind, SavedFilter
from .permissions import can_change_interaction

# What a person may change on a record after it was made; the analysis fields (language,
# sentiment, complaint reason) and the staff member who logged an interaction are the system's.
FEEDBACK_FIELDS = ("customer", "order", "product", "created_at", "channel", "rating", "text")
INTERACTION_FIELDS = ("customer", "kind", "occurred_at", "outcome", "note")


@transaction.atomic
def interaction_log(*, customer: Customer, staff, kind: str, occurred_at: datetime | None = None,
                    outcome: str = "", note: str = "") -> Interaction:
    """Record a call, email, chat, visit or complaint with a customer."""
    interaction = Interaction(customer=customer, staff=staff, kind=kind,
                              occurred_at=occurred_at or timezone.now(), outcome=outcome, note=note)
    interaction.full_clean()
    interaction._history_user = staff
    interaction.save()
    return interaction


@transaction.atomic
def feedback_record(*, customer: Customer, text: str = "", rating: int | None = None,
                    created_at: datetime | None = None, channel: str = "", order=None,
                    product=None) -> Feedback:
    """Store a piece of feedback and have its sentiment analysed once the row is committed."""
    feedback = Feedback(customer=customer, text=text, rating=rating, order=order, product=product,
                        created_at=created_at or timezone.now(),
                        channel=channel or Feedback._meta.get_field("channel").default)
    feedback.full_clean()
    feedback.save()
    if text.strip():
        feedback_text_changed_publish(feedback_ids=[feedback.pk])
    return feedback


# Parameters of the customer list that are not worth keeping in a saved filter.
SAVED_FILTER_IGNORED = ("page",)


def _saved_filter_query(*, query: str, user) -> str:
    """The query string reduced to known list filters, validated and in a stable order.

    Only the customer list's own parameters are kept, one value each, and they must pass the
    same form as the list itself: a saved filter cannot carry anything else into a link.
    """
    from .filters import CustomerListFilter

    if len(query) > SavedFilter._meta.get_field("query").max_length:
        raise ValidationError({"query": _("The filter is too long to save.")})
    params = QueryDict(query.lstrip("?"))
    known = set(CustomerListFilter.PAGE_FILTERS)
    unknown = sorted(set(params) - known - set(SAVED_FILTER_IGNORED))
    if unknown:
        raise ValidationError({"query": _("Unknown filter parameters: %(names)s.") % {
            "names": ", ".join(unknown)}})
    values = {}
    for key in sorted(set(params) & known):
        given = [v for v in params.getlist(key) if v.strip()]
        if len(given) > 1:
            raise ValidationError({"query": _("%(name)s is given more than once.") % {"name": key}})
        if given:
            values[key] = given[0].strip()
    if not values:
        raise ValidationError({"query": _("Apply at least one filter or a sort order before saving.")})
    filterset = CustomerListFilter(values, queryset=Customer.objects.none(), user=user)
    filterset.qs  # noqa: B018 - runs the form and the range checks
    if filterset.form.errors:
        raise ValidationError({"query": [
            f"{filterset.form.fields[field].label if field in filterset.form.fields else field}: "
            f"{' '.join(errors)}" for field, errors in filterset.form.errors.items()]})
    cleaned = QueryDict(mutable=True)
    for key, value in values.items():
        cleaned[key] = value
    return cleaned.urlencode()


@transaction.atomic
def saved_filter_create(*, user, name: str, query: str, shared: bool = False) -> SavedFilter:
    """Keep the customer list's current filters and sort under a name for ``user``; only users
    with ``customers.share_savedfilter`` (managers) may share one with everyone."""
    if shared and not user.has_perm("customers.share_savedfilter"):
        raise PermissionDenied(_("Only managers share saved filters."))
    name = " ".join(name.split())
    if not name:
        raise ValidationError({"name": _("Give the filter a name.")})
    max_length = SavedFilter._meta.get_field("name").max_length
    if len(name) > max_length:
        raise ValidationError({"name": _("Use at most %(n)d characters.") % {"n": max_length}})
    cleaned = _saved_filter_query(query=query, user=user)
    # Checked here for a readable error; the unique constraint still guards a double submit.
    mine = SavedFilter.objects.filter(user=user).annotate(lower=Lower("name"))
    if mine.filter(lower=name.lower()).exists():
        raise ValidationError({"name": _("You already have a saved filter named %(name)s.") % {"name": name}})
    saved = SavedFilter(user=user, name=name, query=cleaned, shared=shared)
    saved.save()
    return saved


@transaction.atomic
def saved_filter_delete(*, user, saved_filter_id: int) -> None:
    """Delete one of the user's own saved filters (someone else's, shared or not, is not found)."""
    deleted, _rows = SavedFilter.objects.filter(pk=saved_filter_id, user=user).delete()
    if not deleted:
        raise SavedFilter.DoesNotExist



def _check_fields(data: Mapping[str, Any], allowed: tuple[str, ...]) -> None:
    unknown = set(data) - set(allowed)
    if unknown:  # a programming error in the caller, not bad input
        raise TypeError(f"not writable here: {sorted(unknown)}")


def _apply(instance, data: Mapping[str, Any]) -> list[str]:
    changed = [name for name, value in data.items() if getattr(instance, name) != value]
    for name in changed:
        setattr(instance, name, data[name])
    return changed


def _check_customer(record, changed: list[str]) -> None:
    if "customer" in changed and record.customer.merged_into_id:
        raise ValidationError({"customer": _("Customer #%(id)s was merged into #%(into)s; use that one.") % {
            "id": record.customer_id, "into": record.customer.merged_into_id}})


def _publish_former_customer(previous_customer_id: int, record, kind: str) -> None:
    # The save publishes the change for the customer the record now belongs to; the one it left
    # changed too.
    if record.customer_id != previous_customer_id:
        records_changed_publish(customer_ids=[previous_customer_id], kinds=[kind])


@transaction.atomic
def feedback_update(*, feedback: Feedback, data: Mapping[str, Any]) -> Feedback:
    """Change a piece of feedback; a new text or rating is analysed again once that is committed.

    The save publishes the change (``customers.events``); the new text is published first, so
    a rescore reads the new sentiment.
    """
    _check_fields(data, FEEDBACK_FIELDS)
    previous_customer_id = feedback.customer_id
    changed = _apply(feedback, data)
    if not changed:
        return feedback
    _check_customer(feedback, changed)
    if feedback.order_id and feedback.order.customer_id != feedback.customer_id:
        raise ValidationError({"order": _("This order belongs to another customer.")})
    if {"text", "rating"} & set(changed):
        # The analysis reads both (a low rating makes a complaint). Cleared, so the record counts
        # as not analysed (the analysis fills only those) and no stale sentiment is read meanwhile.
        feedback.language, feedback.sentiment_score = "", None
        feedback.sentiment_label = feedback.complaint_reason = ""
        feedback.complaint_reasons = []
        changed += ["language", "sentiment_score", "sentiment_label", "complaint_reason", "complaint_reasons"]
        if feedback.text.strip():
            feedback_text_changed_publish(feedback_ids=[feedback.pk])
    feedback.full_clean()
    feedback.save(update_fields=changed)
    _publish_former_customer(previous_customer_id, feedback, "feedback")
    return feedback


def _delete_and_publish(record: Feedback | Interaction, kind: str) -> None:
    """Delete a customer's record and publish the change once that is committed.

    Published here, not by a post_delete signal: a signal would also fire for every row of a
    bulk delete (the demo data flush), asking for thousands of rescores of customers being
    deleted.
    """
    records_changed_publish(customer_ids=[record.customer_id], kinds=[kind])
    record.delete()


@transaction.atomic
def feedback_delete(*, feedback: Feedback) -> None:
    _delete_and_publish(feedback, "feedback")


@transaction.atomic
def interaction_update(*, interaction: Interaction, data: Mapping[str, Any], user) -> Interaction:
    """Change a logged interaction; the save publishes the change (``customers.events``).

    Only its author or a Manager may (``can_change_interaction``); the author (``staff``) stays
    whoever logged it, and the history row names ``user`` as the editor."""
    _check_interaction_editor(interaction, user)
    _check_fields(data, INTERACTION_FIELDS)
    previous_customer_id = interaction.customer_id
    changed = _apply(interaction, data)
    if not changed:
        return interaction
    _check_customer(interaction, changed)
    interaction.full_clean()
    interaction._history_user = user
    interaction.save(update_fields=changed)
    _publish_former_customer(previous_customer_id, interaction, "interactions")
    return interaction


def _check_interaction_editor(interaction: Interaction, user) -> None:
    if not can_change_interaction(user, interaction):
        raise PermissionDenied(_("Only the author of an interaction or a manager may change it."))


@transaction.atomic
def interaction_delete(*, interaction: Interaction, user) -> None:
    """Delete a logged interaction: its author or a Manager only; the history keeps who did it."""
    _check_interaction_editor(interaction, user)
    interaction._history_user = user
    _delete_and_publish(interaction, "interactions")


@transaction.atomic
def token_rotate(*, user):
    """Give ``user`` a new API token, replacing the old one, which stops working at once.

    The staff page and ``POST /api/token/`` both call this; only a browser session may, never a
    token, so a leaked token cannot mint its successor.
    """
    from rest_framework.authtoken.models import Token

    Token.objects.filter(user=user).delete()
    return Token.objects.create(user=user)


@transaction.atomic
def token_revoke(*, user) -> int:
    """Delete ``user``'s API token; integrations using it get 401 from now on."""
    from rest_framework.authtoken.models import Token

    deleted, _by_model = Token.objects.filter(user=user).delete()
    return deleted


__all__ = ["InteractionKind", "feedback_delete", "feedback_record", "feedback_update", "interaction_delete",
           "interaction_log", "interaction_update", "saved_filter_create", "saved_filter_delete",
           "token_revoke", "token_rotate"]


# Sources recorded in the audit trail (simple-history's change reason) when consent is withdrawn
# or an address is marked invalid by something other than a person editing the record.
UNSUBSCRIBE_LINK = "unsubscribe link"
SPAM_COMPLAINT = "spam complaint"
HARD_BOUNCE = "hard bounce"


@transaction.atomic
def customer_marketing_consent_withdraw(*, customer_id: int, source: str) -> bool:
    """Turn marketing consent off at once, recording ``source`` in the history. Returns whether it
    was on (a second click on the same link changes nothing and records nothing)."""
    customer = Customer.objects.select_for_update().get(pk=customer_id)
    if not customer.marketing_consent:
        return False
    customer.marketing_consent = False
    customer.marketing_consent_at = None
    customer._change_reason = source
    customer.save(update_fields=["marketing_consent", "marketing_consent_at", "updated_at"])
    return True


@transaction.atomic
def customer_email_invalidate(*, customer_id: int, source: str) -> bool:
    """Mark the customer's e-mail address as undeliverable (hard bounce, complaint)."""
    customer = Customer.objects.select_for_update().get(pk=customer_id)
    if customer.email_invalid:
        return False
    customer.email_invalid = True
    customer._change_reason = source
    customer.save(update_fields=["email_invalid", "updated_at"])
    return True
