"""Replace every row of a table by building a new one and renaming it in (PostgreSQL).

Rewriting every row of a table in place costs a new version of each row, an entry in each of
its indexes and the write-ahead log of both, and leaves as many dead rows for vacuum. Building
the replacement instead costs one COPY and one build per index: the table is filled without
indexes, its indexes are built once over the loaded rows, and a short locked step at the end
brings in the rows written to the old table meanwhile and renames the new table and its indexes
and constraints to the old names; after the commit, rows whose parent went meanwhile are
dropped (or lose the reference, where it may be NULL) and the foreign keys validated. Readers
see the old rows until the caller's transaction commits and the new ones after: they wait only
from the locked step to the commit.

The new table copies the old one's columns, defaults, identity and check constraints (``CREATE
TABLE ... (LIKE ...)``), and its indexes, extended statistics and foreign keys are read back from
the catalogue, so it is what the migrations built (unique constraints' names are their indexes'
names, as Django makes them). Nothing may refer to the table by foreign key (the drop refuses),
and grants on it are not carried over.

The replacement may also be built and committed on another connection, to run beside the
caller's own work, and swapped in later by the caller; :func:`replacement_drop` drops it when
the caller fails before the swap.
"""
from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import OperationalError, connection, transaction

logger = logging.getLogger(__name__)

# The locked step waits this long for readers and writers of the table to finish, and is tried
# this many times: a writer that takes the same locks in the other order (a new customer whose
# trigger adds its score row) can deadlock with it, and PostgreSQL then cancels one of the two.
LOCK_TIMEOUT = "30s"
LOCK_ATTEMPTS = 5

_LOCK_FAILURES = {"55P03", "40P01"}   # lock_not_available, deadlock_detected
_INDEX_DEF = re.compile(r"^(CREATE (?:UNIQUE )?INDEX )(\S+)( ON )(\S+)( USING .*)$")
_STATISTICS_DEF = re.compile(r"^(CREATE STATISTICS )(\S+)( .* FROM )(\S+)$")


@dataclass
class Replacement:
    """A table's replacement, built and indexed inside the caller's transaction but not yet
    swapped in: the old table is untouched and unlocked until :meth:`swap_in`."""

    table: str
    new: str
    indexes: list
    foreign_keys: list
    statistics: list = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    def swap_in(self, *, key: str | None) -> dict[str, float]:
        """Put the replacement in the table's place. ``key``: bring in the old table's rows whose
        ``key`` the replacement lacks (rows added meanwhile, rows the load did not mean to
        replace); None: the replacement holds every row there is to be. Returns seconds per step."""
        started = time.perf_counter()
        for attempt in range(1, LOCK_ATTEMPTS + 1):
            try:
                with transaction.atomic(), connection.cursor() as cursor:
                    cursor.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
                    _swap(cursor, self, key=key)
                    cursor.execute("SET LOCAL lock_timeout TO DEFAULT")
                break
            except OperationalError as exc:
                # A lock timeout or a deadlock: the savepoint released the locks; try again.
                if getattr(exc.__cause__, "sqlstate", None) not in _LOCK_FAILURES or attempt == LOCK_ATTEMPTS:
                    raise
                logger.warning("replacing %s: lock not granted, attempt %d of %d", self.table, attempt,
                               LOCK_ATTEMPTS)
        self.timings["swap"] = time.perf_counter() - started
        return self.timings


def replacement_create(table: str) -> str:
    """An empty copy of ``table`` under its building name (dropping one a failed run left), for
    :func:`replacement_index` to index once it is filled; returns that name, quoted for SQL.

    Filled by the caller's transaction (:func:`replacement_build`), or, once this one commits,
    by other connections, each COPYing its share of the rows."""
    new = replacement_table(table)
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {new}")
        cursor.execute(f"CREATE TABLE {new} (LIKE {connection.ops.quote_name(table)} INCLUDING DEFAULTS "
                       "INCLUDING CONSTRAINTS INCLUDING IDENTITY)")
    return new


def replacement_index(table: str) -> Replacement:
    """Index the filled copy of ``table`` (:func:`replacement_create`) as ``table`` is indexed,
    and analyse it. Run inside the transaction that swaps it in, or commit it and swap it in
    later (:meth:`Replacement.swap_in`). Locks nothing the table's readers or writers need."""
    q = connection.ops.quote_name
    new = _next(table)
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT c.relname, pg_get_indexdef(i.indexrelid),
                      CASE WHEN i.indisprimary THEN 'PRIMARY KEY'
                           WHEN EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid
                                           AND k.contype = 'u') THEN 'UNIQUE' END
                 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
                WHERE i.indrelid = %s::regclass ORDER BY NOT i.indisprimary, c.relname""", [q(table)])
        indexes = cursor.fetchall()
        cursor.execute(
            """SELECT c.conname, pg_get_constraintdef(c.oid), c.confrelid::regclass::text,
                      (SELECT array_agg(a.attname ORDER BY k.n) FROM unnest(c.conkey) WITH ORDINALITY k(num, n)
                         JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.num),
                      (SELECT array_agg(a.attname ORDER BY k.n) FROM unnest(c.confkey) WITH ORDINALITY k(num, n)
                         JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.num),
                      (SELECT bool_and(NOT a.attnotnull) FROM unnest(c.conkey) k(num)
                         JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.num)
                 FROM pg_constraint c WHERE c.conrelid = %s::regclass AND c.contype = 'f'""", [q(table)])
        foreign_keys = cursor.fetchall()
        cursor.execute("SELECT stxname, pg_get_statisticsobjdef(oid) FROM pg_statistic_ext "
                       "WHERE stxrelid = %s::regclass ORDER BY stxname", [q(table)])
        statistics = cursor.fetchall()
        for name, definition, _ in indexes:
            match = _INDEX_DEF.match(definition)
            cursor.execute(f"{match[1]}{q(_building(name))}{match[3]}{q(new)}{match[5]}")
        # Before the ANALYZE, which computes them.
        for name, definition in statistics:
            match = _STATISTICS_DEF.match(definition)
            cursor.execute(f"{match[1]}{q(_building(name))}{match[3]}{q(new)}")
        cursor.execute(f"ANALYZE {q(new)}")
    return Replacement(table, new, indexes, foreign_keys, statistics,
                       {"indexes": time.perf_counter() - started})


def replacement_build(table: str, load: Callable[[str], None]) -> Replacement:
    """An empty copy of ``table`` that ``load(new_table)`` fills, then indexed as ``table`` is.

    Run inside the caller's transaction, and swap it in (:meth:`Replacement.swap_in`) in the same
    one. Locks nothing the table's readers or writers need.
    """
    started = time.perf_counter()
    load(replacement_create(table))
    loaded = time.perf_counter() - started
    replacement = replacement_index(table)
    replacement.timings = {"load": loaded, **replacement.timings}
    return replacement


def replace_table(table: str, load: Callable[[str], None], *, key: str | None) -> dict[str, float]:
    """Replace the rows of ``table`` by those ``load(new_table)`` writes into an empty copy of it:
    :func:`replacement_build`, then :meth:`Replacement.swap_in`. Returns seconds per step."""
    return replacement_build(table, load).swap_in(key=key)


def replacement_drop(table: str) -> None:
    """Drop the replacement of ``table`` that a build committed (on a connection of its own, to
    run beside other work) and nothing swapped in: a failed run's. The next build would drop
    it too, but not before it has held its rows' disk space until then."""
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {replacement_table(table)}")


def replacement_table(table: str) -> str:
    """The building name of ``table``'s replacement (:func:`replacement_create`), quoted for SQL."""
    return connection.ops.quote_name(_next(table))


def _next(table: str) -> str:
    return f"{table}_next"


def _building(name: str) -> str:
    return f"{name[:58]}_next"


def _swap(cursor, replacement: Replacement, *, key: str | None) -> None:
    q = connection.ops.quote_name
    table, new = replacement.table, replacement.new
    indexes, foreign_keys = replacement.indexes, replacement.foreign_keys
    # Parents first (what a writer of a child row locks first), then the table itself.
    for _, _, parent, *_ in foreign_keys:
        cursor.execute(f"LOCK TABLE {parent} IN SHARE ROW EXCLUSIVE MODE")
    cursor.execute(f"LOCK TABLE {q(table)} IN ACCESS EXCLUSIVE MODE")
    # The table cannot be dropped with checks of its foreign keys still pending from earlier
    # writes in this transaction (Django's are deferred to the commit): run them now.
    cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    if key is not None:
        cursor.execute(f"INSERT INTO {q(new)} SELECT * FROM {q(table)} AS t "
                       f"WHERE NOT EXISTS (SELECT 1 FROM {q(new)} AS n WHERE n.{q(key)} = t.{q(key)})")
    cursor.execute(f"DROP TABLE {q(table)}")
    cursor.execute(f"ALTER TABLE {q(new)} RENAME TO {q(table)}")
    for name, _, constraint in indexes:
        if constraint:   # the index becomes the constraint's, under the constraint's name
            cursor.execute(f"ALTER TABLE {q(table)} ADD CONSTRAINT {q(name)} {constraint} "
                           f"USING INDEX {q(_building(name))}")
        else:
            cursor.execute(f"ALTER INDEX {q(_building(name))} RENAME TO {q(name)}")
    for name, _ in replacement.statistics:   # the old table's went with it
        cursor.execute(f"ALTER STATISTICS {q(_building(name))} RENAME TO {q(name)}")
    # The foreign keys come back NOT VALID: enforced for every later write at once, and checked
    # against the rows there are after the commit (orphans_clear), outside the lock.
    for name, definition, *_ in foreign_keys:
        definition = definition.removesuffix(" NOT VALID")
        cursor.execute(f"ALTER TABLE {q(table)} ADD CONSTRAINT {q(name)} {definition} NOT VALID")
    cursor.execute("SET CONSTRAINTS ALL DEFERRED")   # back to Django's INITIALLY DEFERRED
    transaction.on_commit(lambda: orphans_clear(table, foreign_keys), robust=True)


def orphans_clear(table: str, foreign_keys) -> None:
    """After the swap's commit: the rows whose parent went while the replacement was built lose
    the reference where it may be NULL (as Django's SET_NULL would), else the row; then each
    foreign key is validated. Neither blocks the table's readers or writers for long: each
    statement locks only the rows it changes, and VALIDATE takes a lock that lets them work. A
    failure is logged (the scores are committed by then); the next swap tries again."""
    q = connection.ops.quote_name
    with transaction.atomic(), connection.cursor() as cursor:
        for name, _, parent, columns, parent_columns, nullable in foreign_keys:
            present = " AND ".join(f"n.{q(c)} IS NOT NULL" for c in columns)
            match = " AND ".join(f"p.{q(pc)} = n.{q(c)}" for c, pc in zip(columns, parent_columns))
            orphans = f"{present} AND NOT EXISTS (SELECT 1 FROM {parent} AS p WHERE {match})"
            if nullable:
                cursor.execute(f"UPDATE {q(table)} AS n SET " + ", ".join(f"{q(c)} = NULL" for c in columns)
                               + f" WHERE {orphans}")
            else:
                cursor.execute(f"DELETE FROM {q(table)} AS n WHERE {orphans}")
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")   # ALTER TABLE refuses pending checks
            cursor.execute(f"ALTER TABLE {q(table)} VALIDATE CONSTRAINT {q(name)}")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
