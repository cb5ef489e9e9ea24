"""The readers' limits and checks (encoding of the whole file, columns, cells, XLSX parts) and the
retention of import files."""
from __future__ import annotations

import codecs
import csv
import io
import zipfile
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from intake import readers
from intake.models import ImportJob
from intake.readers import FileFormatError, open_table, scan_encoding
from intake.services.jobs import import_files_expire, import_job_upload, import_preview, upload_size_check

from .conftest import write_xlsx


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.fixture(autouse=True)
def _csv_limit_restored():
    """A reader sets the csv module's process-wide field limit from the setting these tests
    lower; a later test's reader in this process must not inherit the lowered limit."""
    limit = csv.field_size_limit()
    yield
    csv.field_size_limit(limit)


def _rows(data: bytes):
    return list(open_table(io.BytesIO(data)).rows)


# --- encoding ------------------------------------------------------------------------------

@pytest.mark.parametrize("body, expected", [
    ("a,b\n张,伟\n".encode(), "utf-8"),
    (codecs.BOM_UTF8 + "a,b\n张,伟\n".encode(), "utf-8-sig"),
    ("a,b\n张,伟\n".encode("gb18030"), "gb18030"),
    (b"a,b\n1,2\n", "utf-8"),
])
def test_the_whole_file_decides_the_encoding(body, expected):
    assert scan_encoding(io.BytesIO(body)) == expected


@pytest.mark.parametrize("scan_bytes", [3, 7, 1024 * 1024])
def test_the_line_named_is_right_wherever_the_reads_are_cut(monkeypatch, scan_bytes):
    # Reads cut through multi-byte characters and through lines: the line is still the right one.
    monkeypatch.setattr(readers, "SCAN_BYTES", scan_bytes)
    body = b"id,name\r\n" + "".join(f"{i},王芳\r\n" for i in range(50)).encode()
    body += "51,李娜\r\n".encode("gb18030") + "52,张伟\r\n".encode()
    with pytest.raises(FileFormatError, match=r"^Line 52 is not UTF-8 text, although the lines before it are"):
        scan_encoding(io.BytesIO(body))


def test_an_ascii_start_then_gb18030_is_gb18030():
    body = b"id,name\n" + b"1,Li\n" * 10_000 + "2,李娜\n".encode("gb18030")
    assert [row["name"] for _line, row in _rows(body)][-1] == "李娜"


def test_a_byte_neither_encoding_reads_names_its_line():
    with pytest.raises(FileFormatError, match=r"^Line 3 is neither UTF-8 nor GB18030 text\.$"):
        scan_encoding(io.BytesIO(b"id,name\n1,a\n2,\xff\n3,c\n"))


# --- columns and cells ----------------------------------------------------------------------

def test_columns_over_the_limit_are_refused_in_the_header_and_in_a_row(settings):
    settings.IMPORT_MAX_COLUMNS = 3
    with pytest.raises(FileFormatError, match=r"^Line 1 has 4 columns; at most 3 are accepted"):
        open_table(io.BytesIO(b"a,b,c,d\n1,2,3,4\n"))
    with pytest.raises(FileFormatError, match=r"^Line 3 has 5 columns"):
        _rows(b"a,b,c\n1,2,3\n1,2,3,4,5\n")


def test_xlsx_columns_count_up_to_the_last_header(settings, tmp_path):
    settings.IMPORT_MAX_COLUMNS = 2
    path = write_xlsx(tmp_path / "wide.xlsx", [["a", "b", None, None], ["1", "2", None, None]])
    assert open_table(path.open("rb"), name=path.name).headers[:2] == ["a", "b"]
    path = write_xlsx(tmp_path / "wider.xlsx", [["a", "b", "c"], ["1", "2", "3"]])
    with pytest.raises(FileFormatError, match="has 3 columns; at most 2"):
        open_table(path.open("rb"), name=path.name)


def test_cells_over_the_limit_name_the_line(settings, tmp_path):
    settings.IMPORT_MAX_CELL_CHARS = 10
    assert _rows(b"id,name\n1,abcdefghij\n")[0][1]["name"] == "abcdefghij"
    with pytest.raises(FileFormatError, match=r"^Line 3 holds a cell of more than 10 characters\.$"):
        _rows(b"id,name\n1,abcdefghij\n2,abcdefghijk\n")
    with pytest.raises(FileFormatError, match=r"^Line 1 holds a cell of more than 10 characters\.$"):
        _rows(b"id,abcdefghijk\n1,a\n")
    # Ten Chinese characters are 30 bytes of UTF-8 and within a limit of 10 characters.
    path = write_xlsx(tmp_path / "zh.xlsx", [["id", "name"], ["1", "张" * 10]])
    assert list(open_table(path.open("rb"), name=path.name).rows) == [(2, {"id": "1", "name": "张" * 10})]
    path = write_xlsx(tmp_path / "long.xlsx", [["id", "name"], ["1", "张" * 11]])
    with pytest.raises(FileFormatError, match="more than 10 characters"):
        open_table(path.open("rb"), name=path.name)


def test_xlsx_with_a_doctype_is_refused(tmp_path):
    small = write_xlsx(tmp_path / "small.xlsx", [["id"], ["1"]])
    path = tmp_path / "doctype.xlsx"
    with zipfile.ZipFile(small) as source, zipfile.ZipFile(path, "w") as target:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                data = b'<!DOCTYPE x [<!ENTITY a "aaaa">]>' + data
            target.writestr(info, data)
    with pytest.raises(FileFormatError, match="document type declaration"):
        open_table(path.open("rb"), name=path.name)


def test_an_xlsx_over_the_unpacked_size_is_refused(settings, tmp_path):
    settings.IMPORT_MAX_XLSX_UNCOMPRESSED_MB = 0
    path = write_xlsx(tmp_path / "small.xlsx", [["id"], ["1"]])
    with pytest.raises(FileFormatError, match="at most 0 MB are accepted"):
        open_table(path.open("rb"), name=path.name)


def test_upload_size_check(settings):
    settings.IMPORT_MAX_UPLOAD_MB = 2
    upload_size_check(2 * 1024 * 1024)
    with pytest.raises(FileFormatError, match=r"^The file is 3 MB; at most 2 MB may be uploaded"):
        upload_size_check(2 * 1024 * 1024 + 1)


@pytest.mark.django_db
def test_preview_shows_the_start_of_long_cells(role_user):
    body = ("customer_id,name\nC1," + "x" * 5_000 + "\n").encode()
    preview = import_preview(kind="customers", stream=io.BytesIO(body), name="c.csv", user=role_user("Sales"))
    assert len(preview.sample[0][1]) == 80 and preview.sample[0][1].endswith("…")


# --- retention ------------------------------------------------------------------------------

@pytest.mark.django_db
def test_only_old_finished_jobs_lose_their_files(role_user, settings):
    settings.IMPORT_RETENTION_DAYS = 7
    user = role_user("Sales")
    jobs = {}
    for label, status, age in (("old", ImportJob.Status.SUCCEEDED, 8), ("old-draft", ImportJob.Status.DRAFT, 8),
                               ("recent", ImportJob.Status.FAILED, 6), ("running", ImportJob.Status.RUNNING, 30)):
        job = import_job_upload(kind="customers", upload=SimpleUploadedFile(f"{label}.csv", b"customer_id\nC1\n"),
                                user=user)
        job.errors_file.save("x.csv", ContentFile(b"customer_id,line,reasons\n"), save=False)
        ImportJob.objects.filter(pk=job.pk).update(status=status, errors_file=job.errors_file.name,
                                                   created_at=timezone.now() - timedelta(days=age))
        jobs[label] = ImportJob.objects.get(pk=job.pk)
    assert import_files_expire() == 2
    for label, job in jobs.items():
        gone = label in ("old", "old-draft")
        assert default_storage.exists(job.file.name) is not gone, label
        assert default_storage.exists(job.errors_file.name) is not gone, label
        job.refresh_from_db()
        assert (job.files_deleted_at is not None) is gone and bool(job.file) is not gone, label
    assert import_files_expire() == 0  # nothing twice


@pytest.mark.django_db
def test_an_expired_draft_cannot_be_previewed_or_downloaded(client, role_user):
    user = role_user("Sales")
    job = import_job_upload(kind="customers", upload=SimpleUploadedFile("c.csv", b"customer_id\nC1\n"), user=user)
    ImportJob.objects.filter(pk=job.pk).update(created_at=timezone.now() - timedelta(days=365))
    import_files_expire()
    client.force_login(user)
    assert client.get(reverse("intake:preview", args=[job.pk]))["Location"] == reverse("intake:job", args=[job.pk])
    assert client.get(reverse("intake:job-file", args=[job.pk])).status_code == 404


@pytest.mark.django_db
def test_the_admin_links_files_through_the_checked_views(admin_client, role_user):
    job = import_job_upload(kind="customers", upload=SimpleUploadedFile("c.csv", b"customer_id\nC1\n"),
                            user=role_user("Sales"))
    page = admin_client.get(reverse("admin:intake_importjob_change", args=[job.pk])).content.decode()
    assert reverse("intake:job-file", args=[job.pk]) in page and "/media/" not in page


@pytest.mark.django_db
def test_the_command_refuses_a_long_cell_before_saving_any_row(settings, csv_file):
    from django.core.management import CommandError, call_command

    from customers.models import Customer

    settings.IMPORT_MAX_CELL_CHARS = 12
    path = csv_file([["customer_id", "name"], ["C1", "Short"], ["C2", "x" * 13]])
    with pytest.raises(CommandError, match="Line 3 holds a cell of more than 12 characters"):
        call_command("import_data", "customers", str(path), stdout=io.StringIO())
    assert not Customer.objects.exists()


@pytest.mark.django_db
def test_the_upload_page_still_checks_csrf_and_login(role_user):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    upload = {"kind": "customers", "file": SimpleUploadedFile("c.csv", b"customer_id\nC1\n")}
    assert client.post(reverse("intake:import"), upload)["Location"].startswith("/login/")
    client.force_login(role_user("Sales"))
    upload["file"].seek(0)
    assert client.post(reverse("intake:import"), upload).status_code == 403
    assert not ImportJob.objects.exists()
    client.force_login(role_user("Service"))
    assert client.get(reverse("intake:import")).status_code == 403
