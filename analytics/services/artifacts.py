"""Model artifacts: what a run's tasks hand each other, and the models a run leaves behind.

A run stores each engine part's output as a pending artifact, and the finish deletes them; the
scoring snapshot (:data:`SNAPSHOT_ARTIFACT`) stays, for rescoring single customers.
"""
from __future__ import annotations

import pickle
import zlib

import numpy as np
import pandas as pd
from django.db import connection
from django.utils import timezone

from analytics.engine.pipeline import CUSTOMER_PART, PRODUCT_PART
from analytics.models import ModelArtifact
from core.db import binding_cursor, is_postgres

# Artifacts a run keeps between its tasks, deleted when it finishes: each engine part's output
# and its meta, and from the products part the fitted recommender and each chunk's customers
# and ratings, which the ranking chunks load.
PENDING_PREFIX = "pending_"
PENDING_PARTS = {CUSTOMER_PART: f"{PENDING_PREFIX}customers", PRODUCT_PART: f"{PENDING_PREFIX}products"}
PENDING_RECOMMENDER = f"{PENDING_PREFIX}recommender"
# Stored by the task that draws the run's figures beside the two parts, with its timings.
PENDING_FIGURES_META = f"{PENDING_PREFIX}figures_meta"
# The stored models of the last successful run, which rescoring uses.
SNAPSHOT_ARTIFACT = "scoring_snapshot"


def pending_meta_name(part: str) -> str:
    """The small artifact a part stores last: its counts, timings, peaks (and ranges to rank)."""
    return f"{PENDING_PARTS[part]}_meta"


class _Deflated:
    """A file for ``pickle.dump`` that keeps only the compressed stream: the pickle of a part's
    output at a million customers never sits in memory whole beside its compressed copy."""

    def __init__(self) -> None:
        # Level 1: the pending output of a million customers compresses in seconds, not minutes.
        self._compressor = zlib.compressobj(1)
        self._blocks: list[bytes] = []

    def write(self, data) -> int:
        self._blocks.append(self._compressor.compress(data))
        return memoryview(data).nbytes

    def payload(self) -> bytes:
        self._blocks.append(self._compressor.flush())
        payload, self._blocks = b"".join(self._blocks), []
        return payload


def artifact_store(run_id: int, name: str, value) -> None:
    sink = _Deflated()
    pickle.dump(value, sink, protocol=pickle.HIGHEST_PROTOCOL)
    payload = sink.payload()
    if not is_postgres():
        ModelArtifact.objects.update_or_create(run_id=run_id, name=name, defaults={"payload": payload})
        return
    # In bytea's binary form (core.db.binding_cursor): escaped, a part's output at a million
    # customers made the customers part's peak.
    with binding_cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {_table()} (run_id, name, payload, created_at) VALUES (%s, %s, %b, %s) "
            "ON CONFLICT (run_id, name) DO UPDATE SET payload = EXCLUDED.payload",
            [run_id, name, payload, timezone.now()])


def unpickle_payload(payload) -> object:
    return pickle.loads(zlib.decompress(payload))


def artifact_load(run_id: int, name: str):
    payload = _payload(run_id, name)
    if payload is None:
        raise ModelArtifact.DoesNotExist(f"run {run_id} stored no artifact {name!r}")
    return unpickle_payload(payload)


def artifact_find(run_id: int, name: str):
    """:func:`artifact_load`, or None where the run stored no such artifact (one query)."""
    payload = _payload(run_id, name)
    return None if payload is None else unpickle_payload(payload)


def _table() -> str:
    return connection.ops.quote_name(ModelArtifact._meta.db_table)


def _payload(run_id: int, name: str) -> bytes | None:
    """An artifact's stored bytes; on PostgreSQL read in bytea's binary form
    (:func:`core.db.binding_cursor`)."""
    if not is_postgres():
        payload = (ModelArtifact.objects.values_list("payload", flat=True)
                   .filter(run_id=run_id, name=name).first())
        return None if payload is None else bytes(payload)
    with binding_cursor() as cursor:
        cursor.execute(f"SELECT payload FROM {_table()} WHERE run_id = %s AND name = %s", [run_id, name],
                       binary=True)
        row = cursor.fetchone()
    return None if row is None else bytes(row[0])


def ratings_artifact_name(first_id: int, last_id: int) -> str:
    return f"{PENDING_PREFIX}ratings_{first_id}_{last_id}"


# A range's churn customers to explain (churn.PendingReasons), stored by the customers part, and
# their reasons (a Series of lists by customer id), stored by the chunk that explained them.
PENDING_TO_EXPLAIN = f"{PENDING_PREFIX}explain_"
PENDING_EXPLAINED = f"{PENDING_PREFIX}explained_"


def explain_artifact_name(first_id: int, last_id: int, *, explained: bool = False) -> str:
    return f"{PENDING_EXPLAINED if explained else PENDING_TO_EXPLAIN}{first_id}_{last_id}"


def chunk_ratings_store(run_id: int, ranges: list[tuple[int, int]], customer_ids: pd.Series,
                         ratings: pd.DataFrame) -> None:
    """Store, for each range to rank, its customers and their ratings: the part has just built
    them from every order line, and a chunk that read its order lines again from the database
    spent 80 % of its time doing so (2.4 of 3 s per 25,000 customers)."""
    ids = np.sort(customer_ids.to_numpy(dtype="int64"))
    ratings = ratings.sort_values("customer_id", kind="stable")
    rated = ratings["customer_id"].to_numpy()
    for first, last in ranges:
        members = ids[np.searchsorted(ids, first):np.searchsorted(ids, last, side="right")]
        rows = ratings.iloc[np.searchsorted(rated, first):np.searchsorted(rated, last, side="right")]
        artifact_store(run_id, ratings_artifact_name(first, last), (members, rows.reset_index(drop=True)))
