"""Domain events of the customer records, published after the change commits.

customers does not know who listens: analytics subscribes (in its ``AppConfig.ready()``) to
rescore customers and analyse feedback, whatever door the change came through (a page, the
API, an import, a merge, the admin, a delete). A rolled-back change publishes nothing, and a
listener never looks for a row that is not committed yet.

``records_changed`` carries ``customer_ids`` (a frozenset of ids, or ``None`` for "too many to
list": a bulk import) and ``kinds`` (which records changed: ``customers``, ``orders``,
``feedback``, ``interactions``). ``feedback_text_changed`` carries ``feedback_ids`` whose text or
rating is new and needs analysing (``None``: every text not analysed yet); it is published before the matching ``records_changed``, so a
rescore reads the new sentiment.
"""
from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import Signal

from .models import Feedback, Interaction, Order

records_changed = Signal()
feedback_text_changed = Signal()

KINDS = ("customers", "orders", "feedback", "interactions")


def records_changed_publish(*, customer_ids: Iterable[int] | None, kinds: Iterable[str],
                            actor=None) -> None:
    """Tell the listeners, once the current transaction commits, that these customers' records
    changed (``customer_ids=None``: many customers, a bulk write); ``actor`` is the user who
    made the change, when there is one."""
    ids = None if customer_ids is None else frozenset(int(i) for i in customer_ids if i is not None)
    kinds = frozenset(kinds)
    unknown = kinds - set(KINDS)
    if unknown:  # a programming error in the publisher
        raise ValueError(f"unknown record kinds: {sorted(unknown)}")
    if ids is not None and not ids:
        return
    # Robust: the write has committed; a listener that fails (a rescore run in this process) is
    # logged and must not turn the caller's committed write into an error answer (a client
    # would retry it and save a second copy).
    transaction.on_commit(lambda: records_changed.send(
        sender=Order, customer_ids=ids, kinds=kinds, actor=actor), robust=True)


def feedback_text_changed_publish(*, feedback_ids: Iterable[int] | None) -> None:
    """Once committed, ask for these feedback texts (new or changed) to be analysed
    (``feedback_ids=None``: too many to list, a bulk load; every text not analysed yet)."""
    ids = None if feedback_ids is None else frozenset(int(i) for i in feedback_ids)
    if ids is None or ids:
        transaction.on_commit(lambda: feedback_text_changed.send(sender=Feedback, feedback_ids=ids),
                              robust=True)


_KIND_OF = {Order: "orders", Feedback: "feedback", Interaction: "interactions"}


def _record_saved(sender, instance, raw=False, **kwargs) -> None:
    """One saved order, feedback or interaction, from any door (services, admin, API, shell):
    bulk writes send no signal and publish for themselves."""
    if raw:  # loaddata
        return
    records_changed_publish(customer_ids=[instance.customer_id], kinds=[_KIND_OF[sender]])


def connect() -> None:
    for model in _KIND_OF:
        post_save.connect(_record_saved, sender=model, dispatch_uid=f"customers.events.{model.__name__}")
