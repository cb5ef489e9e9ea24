"""Keep scores fresh: analytics listens to the customers' domain events (``customers.events``).

Every door that changes a customer's records (pages, API, imports, merges, the admin, deletes)
publishes there after commit; this is the one place that decides what follows: a rescore of a
few customers with the stored models, or one full run when a bulk write touched many.
"""
from django.dispatch import receiver

from customers.events import feedback_text_changed, records_changed

from .services.rescore import customer_rescore_queue
from .services.runs import score_run_request
from .tasks import feedback_analyse

# Rescoring costs about 80 ms a customer (bench/rescore.py); past this many, one full run (about a
# minute at 100,000 customers) is cheaper and leaves every score from the same models.
RESCORE_MAX_CUSTOMERS = 1_000


@receiver(records_changed, dispatch_uid="analytics.rescore_after_change")
def rescore_after_change(sender, customer_ids, kinds, actor=None, **kwargs) -> None:
    if customer_ids is None or len(customer_ids) > RESCORE_MAX_CUSTOMERS:
        # Joins a run already queued or running rather than starting a second.
        score_run_request(requested_by=actor)
    else:
        customer_rescore_queue(customer_ids=customer_ids)


@receiver(feedback_text_changed, dispatch_uid="analytics.analyse_feedback")
def analyse_new_feedback(sender, feedback_ids, **kwargs) -> None:
    feedback_analyse.delay(None if feedback_ids is None else sorted(feedback_ids))
