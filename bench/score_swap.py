"""Measure the score table written by swap (issue #19 item 1) before building it, on the
database DATABASE_URL names (seeded and scored, as bench/recompute.py leaves it).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/crm_bench .venv/bin/python bench/score_swap.py \
        [--with-update] [--repeat 5]

Every step works on copies in tables of its own (``bench_score_*``) and drops them at the end;
the customers table is only read, except with ``--with-update``, which times today's write in a
transaction it rolls back (the dead rows it leaves are vacuumed before the end).

Prints one JSON object with, in one run:

* ``today_update_seconds`` (``--with-update``): the writer's path today, the score columns of
  every customer COPYed into a temporary table and one ``UPDATE ... FROM`` over the customers
  table, which inserts into every one of its indexes (contact, search and sort alike);
* ``swap_*_seconds``: the same rows COPYed into a new table holding only the scores, its primary
  key and the sort and filter indexes built afterwards, then renamed over the previous table in
  one transaction; the rename's own time is what readers wait;
* ``list_*_ms``: the customer list's first page for each sort and filter of
  ``bench/customer_list.py`` that touches a score, read from the customers table as today and
  through an inner join on the score table, median of ``--repeat`` runs each.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm_site.settings")

# The score table's indexes: Customer.Meta's score indexes and the descending sort indexes of
# customers/migrations/0004, keyed by the customer id instead of the customers table's id.
SINGLE = ("rfm_segment", "value_segment", "value_tier", "churn_risk", "lifecycle_stage",
          "last_order_at", "loyalty_score", "p_alive", "sentiment_score")
SORTED = ("churn_probability", "clv_12m", "total_spent", "recency_days", "order_count")

# (label, WHERE on the scores, ORDER BY on the scores): the list's requests with a score in them.
LIST_QUERIES = (
    ("churn_high", "{t}.churn_risk = 'high'", "{id}"),
    ("churn_high_by_clv", "{t}.churn_risk = 'high'", "{t}.clv_12m DESC NULLS LAST, {id}"),
    ("by_churn", "", "{t}.churn_probability DESC NULLS LAST, {id}"),
    ("segment_and_stage", "{t}.value_segment = 'high' AND {t}.lifecycle_stage = 'at_risk'", "{id}"),
    ("rfm_at_risk_by_orders", "{t}.rfm_segment = 'At Risk'", "{t}.order_count DESC NULLS LAST, {id}"),
    ("churn_and_clv_by_recency", "{t}.churn_probability >= 0.5 AND {t}.clv_12m >= 100",
     "{t}.recency_days DESC NULLS LAST, {id}"),
    ("by_clv_page_150", "", "{t}.clv_12m DESC NULLS LAST, {id}"),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--with-update", action="store_true",
                        help="also time today's UPDATE of every customer row (rolled back)")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    import django

    django.setup()
    from django.db import connection

    from customers.models import SCORE_FIELDS, Customer

    if connection.vendor != "postgresql":
        sys.exit("bench/score_swap.py measures PostgreSQL: set DATABASE_URL=postgres://...")
    customers = connection.ops.quote_name(Customer._meta.db_table)
    columns = [c for c in SCORE_FIELDS if c != "churn_reasons"] + ["churn_reasons"]
    column_list = ", ".join(columns)
    result: dict = {}
    connection.ensure_connection()
    raw = connection.connection
    raw.autocommit = True

    def timed(label: str, *statements: str) -> None:
        started = time.perf_counter()
        with raw.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)
        result[f"{label}_seconds"] = round(time.perf_counter() - started, 2)

    with raw.cursor() as cursor:
        cursor.execute(f"SELECT count(*), pg_total_relation_size('{Customer._meta.db_table}') FROM {customers}")
        result["customers"], size = cursor.fetchone()
        result["customers_table_mb"] = round(size / 2**20)
        cursor.execute("SELECT count(*) FROM pg_indexes WHERE tablename = %s", [Customer._meta.db_table])
        result["customers_table_indexes"] = cursor.fetchone()[0]

    # The scores as the writer holds them: one CSV text, as its COPY sends it.
    started = time.perf_counter()
    with raw.cursor() as cursor, cursor.copy(
            f"COPY (SELECT id, {column_list} FROM {customers}) TO STDOUT WITH (FORMAT csv)") as copy:
        text = b"".join(bytes(block) for block in copy)
    result["scores_copy_out_seconds"] = round(time.perf_counter() - started, 2)
    result["scores_csv_mb"] = round(len(text) / 2**20, 1)

    def copy_in(table: str) -> None:
        with raw.cursor() as cursor, cursor.copy(
                f"COPY {table} (customer_id, {column_list}) FROM STDIN WITH (FORMAT csv)") as copy:
            for start in range(0, len(text), 8 * 2**20):
                copy.write(text[start:start + 8 * 2**20])

    # Every table here (the old scores, the staging table, the new scores) has the score rows'
    # shape: this query, with its rows or WITH NO DATA.
    scores = f"SELECT id AS customer_id, {column_list} FROM {customers}"
    with raw.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_score, bench_score_new, bench_score_old")
        # The table readers see before the swap: the same scores, indexed.
        cursor.execute(f"CREATE TABLE bench_score AS {scores}")
        cursor.execute("ALTER TABLE bench_score ADD PRIMARY KEY (customer_id)")
        for statement in _index_statements("bench_score"):
            cursor.execute(statement)
        cursor.execute("ANALYZE bench_score")

    if args.with_update:
        started = time.perf_counter()
        with raw.transaction(), raw.cursor() as cursor:
            cursor.execute(f"CREATE TEMPORARY TABLE bench_stage AS {scores} WITH NO DATA")
            copy_in("bench_stage")
            cursor.execute("ANALYZE bench_stage")
            cursor.execute(f"UPDATE {customers} AS t SET " + ", ".join(f"{c} = s.{c}" for c in columns)
                           + " FROM bench_stage AS s WHERE t.id = s.customer_id")
            result["today_update_rows"] = cursor.rowcount
            cursor.execute("DROP TABLE bench_stage")
        result["today_update_seconds"] = round(time.perf_counter() - started, 2)

    started_all = time.perf_counter()
    timed("swap_create", f"CREATE TABLE bench_score_new AS {scores} WITH NO DATA")
    started = time.perf_counter()
    copy_in("bench_score_new")
    result["swap_copy_seconds"] = round(time.perf_counter() - started, 2)
    timed("swap_primary_key", "ALTER TABLE bench_score_new ADD PRIMARY KEY (customer_id)")
    timed("swap_indexes", *_index_statements("bench_score_new"))
    timed("swap_analyze", "ANALYZE bench_score_new")
    started = time.perf_counter()
    with raw.transaction(), raw.cursor() as cursor:
        cursor.execute("SET LOCAL lock_timeout = '5s'")
        cursor.execute("LOCK TABLE bench_score IN ACCESS EXCLUSIVE MODE")
        cursor.execute("ALTER TABLE bench_score RENAME TO bench_score_old")
        cursor.execute("ALTER TABLE bench_score_new RENAME TO bench_score")
    result["swap_rename_seconds"] = round(time.perf_counter() - started, 3)
    timed("swap_drop_old", "DROP TABLE bench_score_old")
    result["swap_total_seconds"] = round(time.perf_counter() - started_all, 2)
    with raw.cursor() as cursor:
        cursor.execute("SELECT pg_total_relation_size('bench_score')")
        result["score_table_mb"] = round(cursor.fetchone()[0] / 2**20)

    for label, where, order in LIST_QUERIES:
        offset = 149 * 50 if label.endswith("page_150") else 0
        today_names, joined_names = {"t": "c", "id": "c.id"}, {"t": "s", "id": "s.customer_id"}
        today = (f"SELECT c.* FROM {customers} AS c "
                 + (f"WHERE {where.format(**today_names)} " if where else "")
                 + f"ORDER BY {order.format(**today_names)} LIMIT 50 OFFSET {offset}")
        joined = (f"SELECT c.*, s.* FROM bench_score AS s JOIN {customers} AS c ON c.id = s.customer_id "
                  + (f"WHERE {where.format(**joined_names)} " if where else "")
                  + f"ORDER BY {order.format(**joined_names)} LIMIT 50 OFFSET {offset}")
        for name, sql in (("today", today), ("joined", joined)):
            result[f"list_{label}_{name}_ms"] = _median_ms(raw, sql, args.repeat)

    with raw.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_score")
        if args.with_update:
            started = time.perf_counter()
            cursor.execute(f"VACUUM (ANALYZE) {customers}")
            result["vacuum_after_update_seconds"] = round(time.perf_counter() - started, 2)
    if "today_update_seconds" in result:
        result["update_over_swap"] = round(result["today_update_seconds"] / result["swap_total_seconds"], 2)
    print(json.dumps(result, indent=2))


def _index_statements(table: str) -> list[str]:
    single = [f"CREATE INDEX {table}_{c} ON {table} ({c})" for c in SINGLE]
    ascending = [f"CREATE INDEX {table}_{c}_asc ON {table} ({c}, customer_id)" for c in SORTED]
    descending = [f"CREATE INDEX {table}_{c}_desc ON {table} ({c} DESC NULLS LAST, customer_id)"
                  for c in SORTED]
    return single + ascending + descending


def _median_ms(raw, sql: str, repeat: int) -> float:
    times = []
    with raw.cursor() as cursor:
        cursor.execute(sql)  # warm-up
        cursor.fetchall()
        for _ in range(repeat):
            started = time.perf_counter()
            cursor.execute(sql)
            cursor.fetchall()
            times.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(times), 1)


if __name__ == "__main__":
    main()
