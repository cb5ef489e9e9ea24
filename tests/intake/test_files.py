"""Files: encodings, delimiters, XLSX, the command's JSON, re-import, and background jobs."""
import csv
import io
import json
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from customers.models import Customer, Order, OrderItem
from intake.models import ImportJob
from intake.services.jobs import import_file, import_job_start, import_job_upload
from tests.factories import CustomerFactory, ProductFactory

from .conftest import write_xlsx

pytestmark = pytest.mark.django_db

CUSTOMERS = [
    ["客户编号", "姓名", "手机", "邮箱", "城市", "生日"],
    ["C1", "张伟", "13800138000", "zw@example.com", "上海", "1990/1/5"],
    ["C2", "李娜", "13900139000", "bad-email", "北京", "20230115"],
    ["C3", "王芳", "", "wf@example.com", "北京", "15.01.1985"],
]


def run_command(*args) -> dict:
    out = io.StringIO()
    call_command("import_data", *args, "--format", "json", stdout=out)
    return json.loads(out.getvalue())


@pytest.mark.parametrize("encoding, delimiter", [
    ("utf-8-sig", ","), ("gb18030", ","), ("utf-8", ";"), ("gb18030", "\t"), ("utf-8-sig", "\t"),
])
def test_encodings_and_delimiters(csv_file, encoding, delimiter):
    path = csv_file(CUSTOMERS, encoding=encoding, delimiter=delimiter)
    result = run_command("customers", str(path))
    assert (result["total"], result["created"], result["rejected"]) == (3, 2, 1)
    assert result["errors"] == [{"line": 3, "field": "email", "reason": "'bad-email' is not a valid email address.",
                                 "row": dict(zip(CUSTOMERS[0], CUSTOMERS[2]))}]
    assert Customer.objects.get(external_id="C1").name == "张伟"
    assert Customer.objects.get(external_id="C3").city == "北京"


def test_xlsx_with_typed_cells(tmp_path):
    from datetime import datetime

    CustomerFactory(external_id="C1", name="Zhang Wei")
    ProductFactory(sku="TEA-1", name="Green tea", price=Decimal(10))
    path = write_xlsx(tmp_path / "orders.xlsx", [
        ["订单号", "客户ID", "交易日期", "交易金额", "商品编码", "数量"],
        ["O1", "C1", datetime(2024, 3, 1, 9, 30), 20.0, "TEA-1", 2],
        [1002, "C1", "2024/3/2", "¥15", None, None],
        [None, None, None, None, None, None],
        ["O3", "C1", "not a date", 5, None, None],
    ])
    result = run_command("orders", str(path))
    assert (result["total"], result["created"], result["rejected"]) == (3, 2, 1), result
    assert result["errors"][0]["line"] == 5 and result["errors"][0]["field"] == "ordered_at"
    assert Order.objects.get(external_id="1002").total_amount == Decimal("15.00")
    assert OrderItem.objects.get(order__external_id="O1").quantity == 2


def test_reimport_is_unchanged_and_edits_are_updates(csv_file):
    path = csv_file(CUSTOMERS)
    first = run_command("customers", str(path))
    again = run_command("customers", str(path))
    assert (again["created"], again["updated"], again["unchanged"], again["rejected"]) == (0, 0, 2, 1)
    assert Customer.objects.count() == first["created"] == 2
    edited = [CUSTOMERS[0], [*CUSTOMERS[1][:4], "杭州", CUSTOMERS[1][5]],
              # no customer id: matched on the normalised email instead
              ["", "王芳", "", "WF@EXAMPLE.COM", "北京", "15.01.1985"]]
    result = run_command("customers", str(csv_file(edited)))
    assert (result["updated"], result["unchanged"]) == (1, 1), result
    assert Customer.objects.get(external_id="C1").city == "杭州"


def test_orders_reimport_idempotent_and_changed_lines_replace_items(csv_file):
    CustomerFactory(external_id="C1", name="Zhang Wei")
    ProductFactory(sku="A", name="A", price=5)
    ProductFactory(sku="B", name="B", price=7)
    rows = [["order_id", "customer_id", "ordered_at", "sku", "quantity"],
            ["O1", "C1", "2024-01-01", "A", "1"], ["O1", "C1", "2024-01-01", "B", "2"],
            ["O2", "C1", "2024-01-02", "A", "3"]]
    assert run_command("orders", str(csv_file(rows)))["created"] == 3
    assert run_command("orders", str(csv_file(rows)))["unchanged"] == 3
    rows[2][4] = "5"
    result = run_command("orders", str(csv_file(rows)))
    assert (result["updated"], result["unchanged"]) == (2, 1)
    assert Order.objects.get(external_id="O1").total_amount == Decimal("40.00")
    assert OrderItem.objects.count() == 3


def test_dry_run_writes_nothing(csv_file):
    result = run_command("customers", str(csv_file(CUSTOMERS)), "--dry-run")
    assert result["created"] == 2 and not Customer.objects.exists()


def test_queries_do_not_grow_with_rows(csv_file):
    ProductFactory(sku="A", name="A", price=5)
    Customer.objects.bulk_create([Customer(external_id=f"C{i}", name=f"N{i}") for i in range(60)])

    def queries_for(n: int, start: int) -> int:
        rows = [["order_id", "customer_id", "ordered_at", "sku", "quantity"]]
        rows += [[f"O{start + i}", f"C{i}", "2024-01-01", "A", "1"] for i in range(n)]
        path = csv_file(rows)
        with CaptureQueriesContext(connection) as ctx:
            result = import_file(kind="orders", path=str(path), user=None)
        assert result.created == n
        return len(ctx.captured_queries)

    # Batched inserts may add a query or two (SQLite's 999-parameter batches); a query per row
    # would add 40.
    assert queries_for(50, 100) <= queries_for(10, 0) + 2


def test_unreadable_file_is_a_clear_command_error(tmp_path):
    from django.core.management.base import CommandError

    path = tmp_path / "x.csv"
    path.write_bytes(b"\xff\xfe\x00garbage\x81\x00")
    with pytest.raises(CommandError, match="neither UTF-8 nor GB18030"):
        run_command("customers", str(path))
    with pytest.raises(CommandError, match="no such file"):
        run_command("customers", str(tmp_path / "missing.csv"))


def test_job_streams_in_chunks_and_keeps_rejected_rows(role_user, settings, tmp_path, monkeypatch,
                                                       django_capture_on_commit_callbacks):
    settings.MEDIA_ROOT = str(tmp_path)
    monkeypatch.setattr("intake.services.importers.CHUNK_ROWS", 2)
    user = role_user("Sales")
    body = "\n".join(",".join(r) for r in CUSTOMERS).encode("gb18030")
    upload = SimpleUploadedFile("客户.csv", body, content_type="text/csv")
    job = import_job_upload(kind="customers", upload=upload, user=user)
    assert job.status == ImportJob.Status.DRAFT and job.mapping["手机"] == "phone"
    with django_capture_on_commit_callbacks(execute=True):
        import_job_start(job=job, mapping=job.mapping, user=user)
    job.refresh_from_db()
    assert (job.status, job.progress, job.created_by) == (ImportJob.Status.SUCCEEDED, 100, user)
    assert (job.total, job.created, job.rejected) == (3, 2, 1)
    rejected = list(csv.reader(io.StringIO(job.errors_file.read().decode("utf-8-sig"))))
    assert rejected == [[*CUSTOMERS[0], "line", "reasons"],
                        [*CUSTOMERS[2], "3", "email: 'bad-email' is not a valid email address."]]
    with pytest.raises(ValueError, match="already started"):
        import_job_start(job=job, mapping=job.mapping, user=user)


def test_max_errors_limits_the_output_not_the_counts(csv_file):
    out = io.StringIO()
    call_command("import_data", "customers", str(csv_file(CUSTOMERS)), "--format", "json", "--max-errors", "0",
                 stdout=out)
    result = json.loads(out.getvalue())
    assert (result["rejected"], result["errors"]) == (1, [])
    out = io.StringIO()
    call_command("import_data", "customers", str(csv_file(CUSTOMERS)), "--dry-run", stdout=out)
    assert out.getvalue().startswith("Dry run: 3 rows read: 0 created, 0 updated, 2 unchanged, 1 rejected.")
    assert "line 3: email: 'bad-email' is not a valid email address." in out.getvalue()
