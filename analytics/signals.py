"""Keep scores fresh: a saved order, feedback or interaction queues a rescore of its customer.

Signals rather than calls in each service, because these rows are written by the admin, the API,
imports and services alike, and every one of those paths must refresh the scores. Bulk writes
(imports with bulk_create) send no signals and call ``customer_rescore_queue`` themselves. The
queueing waits for the commit, so a rolled-back write queues nothing.
"""
from django.db.models.signals import post_save
from django.dispatch import receiver

from customers.models import Feedback, Interaction, Order

from .services import customer_rescore_queue


@receiver(post_save, sender=Order, dispatch_uid="analytics.rescore.order")
@receiver(post_save, sender=Feedback, dispatch_uid="analytics.rescore.feedback")
@receiver(post_save, sender=Interaction, dispatch_uid="analytics.rescore.interaction")
def rescore_after_event(sender, instance, raw=False, **kwargs):
    if raw:  # loaddata
        return
    customer_rescore_queue(customer_ids=[instance.customer_id])
