"""Benchmark ``import_data orders`` on PostgreSQL: prints JSON with rows/s and peak memory.

Usage (a database of its own; its customers, products and orders are deleted first)::

    createdb -h 127.0.0.1 -U postgres crm_import_bench
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/crm_import_bench \\
        .venv/bin/python bench/import_orders.py --lines 1000000

It writes an orders CSV of ``--lines`` order lines (one to three lines per order, a SKU, a
quantity and a unit price on each, about one order in fifty with a bad value), loads the
customers and products it names with COPY, then runs ``manage.py import_data orders FILE
--format json`` in a child process and reports that process's wall time and peak RSS
(``resource.getrusage(RUSAGE_CHILDREN).ru_maxrss``). With ``--reimport`` it imports the same file
again, which must report every valid row as unchanged.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def write_orders(path: Path, lines: int, customers: int, products: int, seed: int) -> int:
    rng = random.Random(seed)
    written = 0
    order = 0
    with path.open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(["order_id", "customer_id", "ordered_at", "amount", "sku", "quantity", "unit_price",
                      "channel"])
        while written < lines:
            order += 1
            customer = f"C{rng.randrange(customers)}"
            day = f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d} {rng.randint(8, 21):02d}:15"
            n = min(rng.choice((1, 1, 2, 3)), lines - written)
            items = [(f"SKU{rng.randrange(products)}", rng.randint(1, 4), rng.randint(5, 500)) for _ in range(n)]
            items = list({sku: (sku, q, p) for sku, q, p in items}.values())
            total = sum(q * p for _s, q, p in items)
            bad = rng.random() < 0.02
            for sku, quantity, price in items:
                amount = f"¥{total:,}" if not bad else "-1"
                out.writerow([f"O{order}", customer, day, amount, sku, quantity, price, "ecommerce"])
                written += 1
    return written


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=50_000)
    parser.add_argument("--products", type=int, default=2_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--reimport", action="store_true")
    parser.add_argument("--max-errors", type=int, default=None,
                        help="Passed to import_data: without it the command holds every error "
                             "(about 2%% of the lines here) to print them, which grows with the file.")
    parser.add_argument("--keep-data", action="store_true", help="Do not delete existing rows first.")
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        print("DATABASE_URL must point at a PostgreSQL database of its own", file=sys.stderr)
        return 2
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm_site.settings")
    import django

    django.setup()
    import pandas as pd
    from django.core.management import call_command
    from django.db import connection

    from core.db import bulk_insert
    from customers.models import Customer, Product

    call_command("migrate", verbosity=0)
    if not args.keep_data:
        with connection.cursor() as cursor:
            cursor.execute("TRUNCATE customers_orderitem, customers_order, customers_historicalorder, "
                           "customers_feedback, customers_interaction, customers_customermerge, "
                           "customers_product, customers_customer, customers_historicalcustomer CASCADE")
    bulk_insert(Customer, pd.DataFrame({
        "external_id": [f"C{i}" for i in range(args.customers)],
        "name": [f"Customer {i}" for i in range(args.customers)],
        "email": "", "phone": "", "gender": "", "city": "", "region": "", "country": "",
        "channel": "erp", "marketing_consent": False, "status": "active", "attributes": "{}",
        "created_at": pd.Timestamp.now(tz="UTC"), "updated_at": pd.Timestamp.now(tz="UTC"),
    }))
    bulk_insert(Product, pd.DataFrame({
        "sku": [f"SKU{i}" for i in range(args.products)], "name": [f"Product {i}" for i in range(args.products)],
        "category": "bench", "price": 10.0, "active": True,
    }))
    connection.close()

    figures: dict = {"lines": args.lines, "max_errors": args.max_errors}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "orders.csv"
        started = time.perf_counter()
        write_orders(path, args.lines, args.customers, args.products, args.seed)
        figures["generate_seconds"] = round(time.perf_counter() - started, 1)
        figures["file_mb"] = round(path.stat().st_size / 1e6, 1)
        runs = ["first", "reimport"] if args.reimport else ["first"]
        for run in runs:
            started = time.perf_counter()
            command = [sys.executable, str(ROOT / "manage.py"), "import_data", "orders", str(path),
                       "--format", "json"]
            if args.max_errors is not None:
                command += ["--max-errors", str(args.max_errors)]
            done = subprocess.run(
                command,
                cwd=ROOT, capture_output=True, text=True, check=False)
            seconds = time.perf_counter() - started
            if done.returncode:
                print(done.stderr, file=sys.stderr)
                return done.returncode
            result = json.loads(done.stdout)
            figures[run] = {
                "seconds": round(seconds, 1), "rows_per_second": round(args.lines / seconds),
                **{k: result[k] for k in ("total", "created", "updated", "unchanged", "rejected")},
                # Linux reports ru_maxrss in KiB; the largest of the children run so far.
                "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1),
            }
    print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
