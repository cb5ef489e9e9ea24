"""Writes to customer records that web pages, the API, imports and tasks share.

Each service validates, saves inside a transaction, and queues follow-up work only after commit
(a worker must never look for a row that is not committed yet, or that was rolled back).
"""
from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from .models import Customer, Feedback, Interaction, InteractionKind

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
    interaction.save()
    return interaction


@transaction.atomic
def feedback_record(*, customer: Customer, text: str = "", rating: int | None = None,
                    created_at: datetime | None = None, channel: str = "", order=None,
                    product=None) -> Feedback:
    """Store a piece of feedback and queue its sentiment analysis once the row is committed."""
    from analytics.tasks import feedback_analyse

    feedback = Feedback(customer=customer, text=text, rating=rating, order=order, product=product,
                        created_at=created_at or timezone.now(),
                        channel=channel or Feedback._meta.get_field("channel").default)
    feedback.full_clean()
    feedback.save()
    if text.strip():
        transaction.on_commit(lambda: feedback_analyse.delay([feedback.pk]))
    return feedback



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


def _rescore_former_customer(previous_customer_id: int, record) -> None:
    # The save's signal rescores the customer the record now belongs to; the one it left
    # needs a rescore too.
    from analytics.services import customer_rescore_queue

    if record.customer_id != previous_customer_id:
        customer_rescore_queue(customer_ids=[previous_customer_id])


@transaction.atomic
def feedback_update(*, feedback: Feedback, data: Mapping[str, Any]) -> Feedback:
    """Change a piece of feedback; a new text or rating is analysed again once that is committed.

    The customer is rescored by the save's signal (``analytics.signals``), after the analysis:
    the analysis is queued first, so the rescore reads the new sentiment.
    """
    from analytics.tasks import feedback_analyse

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
        changed += ["language", "sentiment_score", "sentiment_label", "complaint_reason"]
        if feedback.text.strip():
            feedback_id = feedback.pk
            transaction.on_commit(lambda: feedback_analyse.delay([feedback_id]))
    feedback.full_clean()
    feedback.save(update_fields=changed)
    _rescore_former_customer(previous_customer_id, feedback)
    return feedback


@transaction.atomic
def feedback_delete(*, feedback: Feedback) -> None:
    """Delete a piece of feedback and rescore its customer without it once that is committed."""
    from analytics.services import customer_rescore_queue

    # Queued here, not by a post_delete signal: a signal would also fire for every row of a bulk
    # delete (the demo data flush), queueing thousands of rescores of customers being deleted.
    customer_rescore_queue(customer_ids=[feedback.customer_id])
    feedback.delete()


@transaction.atomic
def interaction_update(*, interaction: Interaction, data: Mapping[str, Any]) -> Interaction:
    """Change a logged interaction; its customer is rescored by the save's signal."""
    _check_fields(data, INTERACTION_FIELDS)
    previous_customer_id = interaction.customer_id
    changed = _apply(interaction, data)
    if not changed:
        return interaction
    _check_customer(interaction, changed)
    interaction.full_clean()
    interaction.save(update_fields=changed)
    _rescore_former_customer(previous_customer_id, interaction)
    return interaction


@transaction.atomic
def interaction_delete(*, interaction: Interaction) -> None:
    """Delete a logged interaction and rescore its customer without it once that is committed."""
    from analytics.services import customer_rescore_queue

    customer_rescore_queue(customer_ids=[interaction.customer_id])
    interaction.delete()


__all__ = ["InteractionKind", "feedback_delete", "feedback_record", "feedback_update", "interaction_delete",
           "interaction_log", "interaction_update"]
