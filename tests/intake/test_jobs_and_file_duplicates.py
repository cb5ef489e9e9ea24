"""Duplicates across chunks, the import job's lease, and ``import_data --rejected``."""
import csv
import io
from datetime import timedelta
from decimal import Decimal

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from django.utils import timezone

from customers.models import Customer, Order, OrderItem
from intake.models import ImportJob
from intake.readers import open_table
from intake.seen import SeenKeys, key_hashes
from intake.services import importers, jobs
from intake.services.jobs import import_file, import_job_start, import_job_upload, import_jobs_expire
from tests.factories import CustomerFactory, ProductFactory

pytestmark = pytest.mark.django_db


def test_seen_keys_agree_with_a_dict():
    # The compact set must answer exactly like a dict of first lines, chunk after chunk.
    rng = np.random.default_rng(3)
    seen, reference = SeenKeys(), {}
    line = 1
    for _chunk in range(30):
        keys = [("O%d" % rng.integers(2_000), "SKU%d" % rng.integers(3)) for _ in range(200)]
        firsts = {}
        for key in keys:
            line += 1
            firsts.setdefault(key, line)
        hashes = key_hashes(list(firsts))
        earlier = seen.first_lines(hashes).tolist()
        assert earlier == [reference.get(key, 0) for key in firsts]
        new = np.array(earlier) == 0
        seen.add(hashes[new], np.fromiter(firsts.values(), dtype=np.uint32)[new])
        for key, first in firsts.items():
            reference.setdefault(key, first)
    assert len(seen) == len(reference)
    assert seen.hashes.nbytes + seen.lines.nbytes == 12 * len(reference)


def errors_by_line(result):
    return {e["line"]: (e["field"], e["reason"]) for e in result.errors}


def test_duplicate_customer_in_a_later_chunk_is_rejected_naming_the_first_line(csv_file):
    path = csv_file([["customer_id", "name", "city"],
                     ["C1", "Zhang Wei", "Shanghai"],
                     ["C2", "Li Na", "Beijing"],
                     ["C3", "Wang Fang", "Beijing"],
                     ["C1", "Zhang Wei", "Hangzhou"]])
    result = import_file(kind="customers", path=str(path), user=None, chunk_rows=2)
    assert (result.total, result.created, result.rejected) == (4, 3, 1)
    assert errors_by_line(result) == {5: ("customer_id", "duplicates line 2 of the file.")}
    assert Customer.objects.get(external_id="C1").city == "Shanghai"  # the copy changed nothing
    again = import_file(kind="customers", path=str(path), user=None, chunk_rows=2)
    assert (again.unchanged, again.rejected) == (3, 1)


def test_duplicate_order_line_in_a_later_chunk_is_rejected_with_its_order():
    CustomerFactory(external_id="C1", name="Zhang Wei")
    ProductFactory(sku="A", name="A", price=Decimal(5))
    ProductFactory(sku="B", name="B", price=Decimal(7))
    rows = [(2, {"order_id": "O1", "customer_id": "C1", "ordered_at": "2024-01-05", "sku": "A"}),
            (3, {"order_id": "O2", "customer_id": "C1", "ordered_at": "2024-01-06", "sku": "A"}),
            (4, {"order_id": "O3", "customer_id": "C1", "ordered_at": "2024-01-07", "sku": "B"}),
            (5, {"order_id": "O1", "customer_id": "C1", "ordered_at": "2024-01-05", "sku": "A"}),
            (6, {"order_id": "O1", "customer_id": "C1", "ordered_at": "2024-01-05", "sku": "B"})]
    mapping = {k: k for k in rows[0][1]}
    for chunk_rows in (2, 5_000):  # across chunks, then within one: the same answer
        Order.objects.all().delete()
        result = importers.import_run(kind="orders", rows=rows, mapping=mapping, user=None,
                                     chunk_rows=chunk_rows)
        assert result.total == result.created + result.updated + result.unchanged + result.rejected == 5
        assert errors_by_line(result)[5] == ("sku", "duplicates line 2 of the file.")
    # Within one chunk the lines 5 and 6 are one group with line 2, so line 6 joins order O1 and
    # goes down with the rejected line; across chunks (2 rows) it is a separate group, also refused.
    assert set(Order.objects.values_list("external_id", flat=True)) == {"O2", "O3"}
    assert OrderItem.objects.count() == 2


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)


def make_job(role_user, body=b"customer_id,name\nC1,Zhang Wei\nC2,\n", user=None):
    user = user or role_user("Sales")
    job = import_job_upload(kind="customers", upload=SimpleUploadedFile("c.csv", body), user=user)
    return user, job


def test_a_job_whose_worker_died_is_shown_failed(media, role_user, client):
    user, job = make_job(role_user)
    long_ago = timezone.now() - timedelta(hours=1)
    # What a killed worker leaves behind: running, its lease renewed for the last time an hour ago.
    ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.RUNNING, started_at=long_ago,
                                               lease_expires_at=long_ago + jobs.IMPORT_LEASE)
    alive = make_job(role_user, user=user)[1]
    ImportJob.objects.filter(pk=alive.pk).update(
        status=ImportJob.Status.RUNNING, started_at=long_ago,
        lease_expires_at=timezone.now() + timedelta(minutes=5))
    client.force_login(user)
    progress = client.get(reverse("intake:job-progress", args=[job.pk])).json()
    assert (progress["status"], progress["finished"]) == ("failed", True)
    sentence = ("The worker running this import stopped reporting progress (it was restarted, killed or "
                "ran out of memory) after 0 rows were saved. Import the same file again")
    assert progress["error"].startswith(sentence)
    page = client.get(reverse("intake:job", args=[job.pk])).content.decode()
    assert sentence in page
    assert client.get(reverse("intake:job-progress", args=[alive.pk])).json()["status"] == "running"
    listing = client.get(reverse("intake:import")).content.decode()
    assert listing.count('<span class="badge">Failed</span>') == 1
    assert listing.count('<span class="badge">Running</span>') == 1
    # Showing it wrote nothing: recording the failure is the beat's sweep's job.
    job.refresh_from_db()
    assert (job.status, job.finished_at) == (ImportJob.Status.RUNNING, None)
    assert import_jobs_expire() == 1
    job.refresh_from_db()
    assert job.status == ImportJob.Status.FAILED and job.finished_at is not None
    assert job.error_kind == "worker_lost" and "stopped renewing its lease" in job.error
    assert job.get_error_message().startswith(sentence)
    assert ImportJob.objects.get(pk=alive.pk).status == ImportJob.Status.RUNNING
    # A redelivered message for the abandoned job does not start it again.
    assert jobs.import_job_run(job_id=job.pk).status == ImportJob.Status.FAILED


def test_a_job_started_before_leases_existed_expires_by_its_start(media, role_user):
    _user, job = make_job(role_user)
    ImportJob.objects.filter(pk=job.pk).update(
        status=ImportJob.Status.RUNNING, lease_expires_at=None,
        started_at=timezone.now() - jobs.IMPORT_LEASE - timedelta(minutes=1))
    assert import_jobs_expire() == 1
    assert ImportJob.objects.get(pk=job.pk).status == ImportJob.Status.FAILED


def test_a_running_job_renews_its_lease_and_stops_once_it_lost_it(media, role_user, monkeypatch,
                                                                   django_capture_on_commit_callbacks):
    body = "customer_id,name\n" + "".join(f"C{i},Name {i}\n" for i in range(6))
    user, job = make_job(role_user, body.encode())
    monkeypatch.setattr(importers, "CHUNK_ROWS", 2)
    # The reader below looks at the job row as it reads; reading ahead would do that in a thread,
    # on another connection that cannot see this test's uncommitted rows.
    monkeypatch.setattr(importers, "READ_AHEAD_CHUNKS", 0)
    leases = []
    real_open_table = jobs.open_table

    def open_table_watching(stream, **kwargs):
        table = real_open_table(stream, **kwargs)
        rows = table.rows

        def watched():
            for position, item in enumerate(rows):
                current = ImportJob.objects.get(pk=job.pk)
                leases.append(current.lease_expires_at)
                if position == 4:
                    # The lease runs out while the third chunk is read (a stalled worker):
                    # the next look at the jobs marks it failed.
                    ImportJob.objects.filter(pk=job.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
                    import_jobs_expire()
                yield item

        table.rows = watched()
        return table

    monkeypatch.setattr(jobs, "open_table", open_table_watching)
    with django_capture_on_commit_callbacks(execute=True):
        import_job_start(job=job, mapping=job.mapping, user=user)
    job.refresh_from_db()
    assert leases[3] > leases[0] > timezone.now() - timedelta(minutes=1)  # renewed by the first chunk
    # The worker saw it had lost the lease and stopped: the job is not overwritten as succeeded,
    # the chunk it was writing rolled back, and the counts are those of the rows saved.
    assert job.status == ImportJob.Status.FAILED and job.error_kind == "worker_lost"
    assert "after 2 rows were saved" in job.get_error_message()
    assert (job.total, job.created) == (2, 2)
    assert Customer.objects.count() == 2


def test_command_writes_the_rejected_rows(csv_file, tmp_path):
    rows = [["客户编号", "姓名", "邮箱"], ["C1", "张伟", "zw@example.com"], ["C2", "李娜", "bad-email"],
            ["C3", "", ""]]
    target = tmp_path / "rejected.csv"
    out = io.StringIO()
    call_command("import_data", "customers", str(csv_file(rows, encoding="gb18030")), "--rejected",
                 str(target), stdout=out)
    assert f"Rejected rows written to {target}." in out.getvalue()
    raw = target.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # a BOM, so Excel reads the Chinese as UTF-8
    assert list(csv.reader(io.StringIO(raw.decode("utf-8-sig")))) == [
        ["客户编号", "姓名", "邮箱", "line", "reasons"],
        ["C2", "李娜", "bad-email", "3", "email: 'bad-email' is not a valid email address."],
        ["C3", "", "", "4", "name: is required for a new customer."],
    ]
    # The file re-imports: its extra columns are left out, the fixed row goes in.
    fixed = tmp_path / "fixed.csv"
    fixed.write_text(raw.decode("utf-8-sig").replace("bad-email", "ln@example.com"), encoding="utf-8")
    assert open_table(fixed.open("rb")).headers[-2:] == ["line", "reasons"]
    again = import_file(kind="customers", path=str(fixed), user=None)
    assert (again.created, again.rejected) == (1, 1)
    assert Customer.objects.get(external_id="C2").email == "ln@example.com"


def test_command_refuses_a_rejected_path_it_cannot_write(csv_file, tmp_path):
    path = csv_file([["customer_id", "name"], ["C1", "Zhang"]])
    with pytest.raises(CommandError, match="--rejected: cannot write"):
        call_command("import_data", "customers", str(path), "--rejected", str(tmp_path / "no" / "x.csv"))
    assert not Customer.objects.exists()


def test_order_writes_keep_the_audit_trail(role_user):
    # PostgreSQL writes orders with COPY and SQL, SQLite through the ORM: both leave the same
    # history rows (who, "+" for created, "~" for changed) and the same lines.
    user = role_user("Sales")
    Customer.objects.bulk_create([Customer(external_id="C1", name="Zhang"), Customer(external_id="C2", name="Li")])
    ProductFactory(sku="A", name="A", price=Decimal(5))
    ProductFactory(sku="B", name="B", price=Decimal(7))
    rows = [(2, {"order_id": "O1", "customer_id": "C1", "ordered_at": "2024-01-05 10:00", "sku": "A", "quantity": "2"}),
            (3, {"order_id": "O1", "customer_id": "C1", "ordered_at": "2024-01-05 10:00", "sku": "B", "quantity": "1"}),
            (4, {"order_id": "O2", "customer_id": "C2", "ordered_at": "2024-01-06", "amount": "¥30"})]
    mapping = {k: k for k in ("order_id", "customer_id", "ordered_at", "sku", "quantity", "amount")}
    result = importers.import_run(kind="orders", rows=rows, mapping=mapping, user=user)
    assert result.created == 3
    o1 = Order.objects.get(external_id="O1")
    assert (o1.total_amount, o1.channel, o1.status) == (Decimal("17.00"), "store", "completed")
    assert sorted(o1.items.values_list("product__sku", "quantity", "unit_price")) == [
        ("A", 2, Decimal("5.00")), ("B", 1, Decimal("7.00"))]
    assert Order.objects.get(external_id="O2").items.count() == 0
    created = Order.history.filter(history_type="+")
    assert sorted(created.values_list("external_id", "history_user", "total_amount")) == [
        ("O1", user.pk, Decimal("17.00")), ("O2", user.pk, Decimal("30.00"))]
    rows[0][1]["quantity"] = "3"
    rows[2][1]["customer_id"] = "C1"
    again = importers.import_run(kind="orders", rows=rows, mapping=mapping, user=None)
    assert (again.updated, again.unchanged, again.created) == (3, 0, 0)
    changed = Order.history.filter(history_type="~")
    assert sorted(changed.values_list("external_id", "history_user", "total_amount")) == [
        ("O1", None, Decimal("22.00")), ("O2", None, Decimal("30.00"))]
    assert Order.objects.get(external_id="O2").customer.external_id == "C1"
    assert sorted(Order.objects.get(external_id="O1").items.values_list("product__sku", "quantity")) == [
        ("A", 3), ("B", 1)]
    assert OrderItem.objects.count() == 2
