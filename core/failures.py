"""Why a job failed, in words its reader can act on.

A failed import job or score run keeps two things apart:

- the raw error (exception class, message and traceback), for an administrator: in the log
  (``logger.exception``) and in the job's ``error`` field, which the admin shows;
- a failure kind (:class:`FailureKind`) with a few parameters, which the pages turn into a
  sentence saying what happened and what to do. The sentence is chosen and translated when the
  page is shown, not when the failure is recorded: the worker that records it may run in another
  language than the person who reads it.

Each job model names its own sentence per kind (``failure_messages``): "the import stopped after
12 rows were saved" and "the scores of the previous run are unchanged" are different promises.
"""
from __future__ import annotations

import traceback
from collections.abc import Iterator, Mapping

from django.db import models
from django.db.utils import OperationalError
from django.utils.translation import gettext_lazy as _

# The raw error kept for the admin: the end of the traceback (where the exception is) matters most.
DETAIL_MAX_CHARS = 8_000

# Messages of database errors that mean "another writer held the lock; trying again will work":
# SQLite's SQLITE_BUSY / SQLITE_LOCKED (https://www.sqlite.org/rescode.html#busy) and
# PostgreSQL's lock_not_available (55P03) and deadlock_detected (40P01)
# (https://www.postgresql.org/docs/current/errcodes-appendix.html).
_BUSY_MESSAGES = ("database is locked", "database table is locked", "database is busy",
                  "deadlock detected", "lock timeout", "could not obtain lock")
# A statement that ran past PostgreSQL's statement_timeout, and Celery's time limits.
_TIMEOUT_MESSAGES = ("statement timeout",)
_TIME_LIMIT_EXCEPTIONS = ("SoftTimeLimitExceeded", "TimeLimitExceeded")


class FailureKind(models.TextChoices):
    DATABASE_BUSY = "database_busy", _("The database was busy")
    UNREADABLE_FILE = "unreadable_file", _("The file cannot be read")
    WORKER_LOST = "worker_lost", _("The worker stopped")
    NOT_ENOUGH_HISTORY = "not_enough_history", _("Not enough history")
    OUT_OF_RESOURCES = "out_of_resources", _("Out of memory or time")
    UNEXPECTED = "unexpected", _("Unexpected error")


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception and the ones it was raised from or during (Django wraps driver errors)."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def failure_kind(exc: BaseException) -> str:
    """The kind of failure ``exc`` is: what a person can do about it decides the kind."""
    for error in _chain(exc):
        if isinstance(error, MemoryError) or type(error).__name__ in _TIME_LIMIT_EXCEPTIONS:
            return FailureKind.OUT_OF_RESOURCES
        message = str(error).lower()
        if isinstance(error, OperationalError) or type(error).__module__.startswith(("sqlite3", "psycopg")):
            if any(text in message for text in _BUSY_MESSAGES):
                return FailureKind.DATABASE_BUSY
            if any(text in message for text in _TIMEOUT_MESSAGES):
                return FailureKind.OUT_OF_RESOURCES
    return FailureKind.UNEXPECTED


def failure_detail(exc: BaseException) -> str:
    """The raw error for an administrator: the traceback, ending in the exception's class and
    message (cut from the front when long)."""
    text = "".join(traceback.format_exception(exc)).strip()
    return text if len(text) <= DETAIL_MAX_CHARS else "…" + text[-DETAIL_MAX_CHARS:]


def failure_message(messages: Mapping[str, object], kind: str, params: Mapping[str, object]) -> str:
    """The sentence for ``kind`` in the active language, from a model's ``failure_messages``
    (lazy strings; a plural one is an ``ngettext_lazy`` whose number is one of the params).

    A kind the model has no sentence for, or parameters a sentence cannot be filled from (a row
    recorded before the sentence changed), read as the model's generic sentence."""
    generic = messages[FailureKind.UNEXPECTED]
    message = messages.get(kind) or generic
    for candidate in (message, generic):
        try:
            return str(candidate % dict(params))
        except (KeyError, TypeError, ValueError):
            continue
    return str(generic)


# Words of the errors recorded before jobs kept their kind -> the kind they are. Used once, by the
# migrations that added ``error_kind`` to each job model.
LEGACY_ERROR_KINDS = (
    ("database is locked", "database_busy"),
    ("stopped reporting progress", "worker_lost"),
    ("stopped renewing its lease", "worker_lost"),
    ("MemoryError", "out_of_resources"),
    ("TimeLimitExceeded", "out_of_resources"),
)


def legacy_failures_classify(*, app_label: str, model_name: str):
    """A ``RunPython`` forward function giving failed jobs recorded before ``error_kind`` existed
    the kind their raw error shows ("unexpected" when it shows none)."""

    def forward(apps, schema_editor) -> None:
        model = apps.get_model(app_label, model_name)
        failed = model.objects.filter(status="failed", error_kind="")
        for words, kind in LEGACY_ERROR_KINDS:
            failed.filter(error__contains=words).update(error_kind=kind)
        failed.update(error_kind="unexpected")

    return forward
