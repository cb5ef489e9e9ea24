"""Writes to customer records that web pages, the API, imports and tasks share.

Each service validates, saves inside a transaction, and queues follow-up work only after commit
(a worker must never look for a row that is not committed yet, or that was rolled back).
"""
from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from .models import Customer, Feedback, Interaction, InteractionKind


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


__all__ = ["InteractionKind", "feedback_record", "interaction_log"]
