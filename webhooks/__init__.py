"""Webhooks: signed HTTP callbacks to integrations when something they subscribed to happens.

``models`` (loaded by ``customers.models``), ``services`` (endpoints, emitting events, delivering
them), ``events`` (what the score pipeline and campaigns call), ``tasks`` (one delivery per task),
``api`` and ``admin``. Deliveries are at least once: a receiver deduplicates on the event id.
"""
