"""Import a CSV or XLSX file: ``python manage.py import_data orders orders.csv --format json``."""
from __future__ import annotations

import json
import os

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from intake.fields import KINDS
from intake.readers import FileFormatError
from intake.services.importers import CHUNK_ROWS, ImportOptions
from intake.services.jobs import import_file


class Command(BaseCommand):
    help = ("Import customers, products, orders, feedback or interactions from a CSV or XLSX file. "
            "Every row ends created, updated, unchanged or rejected (with the reason); "
            "importing the same file again changes nothing.")

    def add_arguments(self, parser):
        parser.add_argument("kind", choices=sorted(KINDS))
        parser.add_argument("file")
        parser.add_argument("--dry-run", action="store_true",
                            help="Validate and count, then roll everything back.")
        parser.add_argument("--format", choices=["text", "json"], default="text")
        parser.add_argument("--create-missing-customers", action="store_true",
                            help="Create a stub customer for an unknown customer id instead of "
                                 "rejecting the row.")
        parser.add_argument("--mapping", default="",
                            help='JSON object {"file column": "field"} overriding the detected mapping.')
        parser.add_argument("--user", default="", help="Username the import is attributed to.")
        parser.add_argument("--rejected", metavar="PATH", default="",
                            help="Write the rejected rows to PATH as CSV: the file's columns, then the "
                                 "line number and the reasons (the file the import page offers).")
        parser.add_argument("--chunk-rows", type=int, default=None,
                            help="Rows validated and written per transaction (default %d)." % CHUNK_ROWS)
        parser.add_argument("--max-errors", type=int, default=None,
                            help="Keep at most this many errors in the output (all by default); "
                                 "the counts still cover every row.")

    def handle(self, *args, kind, file, dry_run, format, create_missing_customers, mapping, user,
               max_errors, rejected, chunk_rows, **options):
        if chunk_rows is not None and chunk_rows < 1:
            raise CommandError("--chunk-rows: must be at least 1.")
        account = None
        if user:
            try:
                account = get_user_model().objects.get(username=user)
            except get_user_model().DoesNotExist:
                raise CommandError(f"--user: no user named {user!r}.") from None
        try:
            column_mapping = json.loads(mapping) if mapping else None
        except json.JSONDecodeError as exc:
            raise CommandError(f"--mapping: not JSON ({exc}).") from None
        if not os.path.isfile(file):
            raise CommandError(f"{file}: no such file.")
        try:
            # utf-8-sig: Excel opens a CSV with a byte-order mark as UTF-8 (Chinese text intact).
            rejected_csv = (open(rejected, "w", newline="", encoding="utf-8-sig")  # noqa: SIM115 - closed below
                            if rejected else None)
        except OSError as exc:
            raise CommandError(f"--rejected: cannot write {rejected} ({exc.strerror}).") from None
        try:
            result = import_file(kind=kind, path=file, user=account, mapping=column_mapping,
                                 options=ImportOptions(create_missing_customers=create_missing_customers),
                                 dry_run=dry_run, keep_errors=max_errors, rejected_csv=rejected_csv,
                                 chunk_rows=chunk_rows)
        except FileNotFoundError:
            raise CommandError(f"{file}: no such file.") from None
        except (FileFormatError, ValueError) as exc:
            raise CommandError(f"{file}: {exc}") from None
        finally:
            if rejected_csv is not None:
                rejected_csv.close()
        if format == "json":
            self.stdout.write(json.dumps(result.as_dict(), ensure_ascii=False))
            return
        prefix = "Dry run: " if dry_run else ""
        self.stdout.write(f"{prefix}{result.total} rows read: {result.created} created, "
                          f"{result.updated} updated, {result.unchanged} unchanged, "
                          f"{result.rejected} rejected.")
        if rejected:
            self.stdout.write(f"Rejected rows written to {rejected}.")
        for error in result.errors[:100]:
            self.stdout.write(f"  line {error['line']}: {error['field']}: {error['reason']}")
        if len(result.errors) > 100:
            self.stdout.write(f"  ... and {len(result.errors) - 100} more (use --format json).")
