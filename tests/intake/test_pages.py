"""The staff import pages: upload, preview with a changed mapping, start, progress, download."""
import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from customers.models import Customer
from intake.models import ImportJob

pytestmark = pytest.mark.django_db

BODY = ("客户编号;姓名;手机;备注\n"
        "C1;张伟;13800138000;vip\n"
        "C2;李娜;12345;\n"
        "C3;王芳;13900139000;\n").encode("gb18030")


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)


def upload(client, body=BODY, name="客户.csv", kind="customers"):
    return client.post(reverse("intake:import"), {"kind": kind, "file": SimpleUploadedFile(name, body)})


def test_upload_preview_change_mapping_start_and_download(client, role_user, django_capture_on_commit_callbacks):
    user = role_user("Sales")
    client.force_login(user)
    assert client.get(reverse("intake:import")).status_code == 200
    response = upload(client)
    job = ImportJob.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("intake:preview", args=[job.pk])
    preview = client.get(response["Location"]).content.decode()
    assert '<option value="phone" selected>' in preview
    assert "Of the first 3 rows, 2 are valid and 1 would be rejected." in preview
    assert "&#x27;12345&#x27; is not a valid phone number" in preview
    assert not Customer.objects.exists()  # the dry run wrote nothing

    # Leave the phone column out: now every row is valid.
    mapping = {"map-0": "customer_id", "map-1": "name", "map-2": "", "map-3": ""}
    preview = client.post(response["Location"], {**mapping, "action": "preview"}).content.decode()
    assert "Of the first 3 rows, 3 are valid and 0 would be rejected." in preview
    # Put it back and start.
    with django_capture_on_commit_callbacks(execute=True):
        started = client.post(response["Location"], {**mapping, "map-2": "phone", "action": "start"})
    assert started.status_code == 302 and started["Location"] == reverse("intake:job", args=[job.pk])
    job.refresh_from_db()
    assert (job.status, job.created, job.rejected, job.created_by) == ("succeeded", 2, 1, user)
    assert Customer.objects.get(external_id="C1").attributes == {"备注": "vip"}
    progress = client.get(reverse("intake:job-progress", args=[job.pk])).json()
    assert progress["finished"] and progress["progress"] == 100 and progress["rejected"] == 1
    page = client.get(started["Location"]).content.decode()
    assert reverse("intake:job-rejected", args=[job.pk]) in page
    download = client.get(reverse("intake:job-rejected", args=[job.pk]))
    rows = list(csv.reader(io.StringIO(b"".join(download.streaming_content).decode("utf-8-sig"))))
    assert rows[1][:3] == ["C2", "李娜", "12345"] and rows[1][4] == "3" and "phone:" in rows[1][5]
    listing = client.get(reverse("intake:import")).content.decode()
    assert "客户.csv" in listing and user.username in listing


def test_bad_uploads_and_mappings_are_explained(client, role_user):
    client.force_login(role_user("Sales"))
    response = upload(client, body=b"\xff\xfe\x00\x81bad", name="x.csv")
    assert response.status_code == 400 and "neither UTF-8 nor GB18030" in response.content.decode()
    response = upload(client)
    job = ImportJob.objects.get()
    page = client.post(response["Location"], {"map-0": "", "map-1": "name", "map-2": "", "map-3": "",
                                              "action": "start"}).content.decode()
    assert "No column is mapped to the required field(s): customer_id / email / phone." in page
    job.refresh_from_db()
    assert job.status == "draft"


def test_service_cannot_import(client, role_user):
    client.force_login(role_user("Service"))
    assert client.get(reverse("intake:import")).status_code == 403
    assert upload(client).status_code == 403
    assert not ImportJob.objects.exists()
    client.logout()
    assert client.get(reverse("intake:import")).status_code == 302  # to the login page


@pytest.mark.browser
def test_import_in_the_browser(page, login, role_user, tmp_path, settings):
    user = role_user("Sales")
    login(user)
    path = tmp_path / "customers.csv"
    path.write_bytes(BODY)
    page.goto("/data/import/")
    page.select_option("#id_kind", "customers")
    page.set_input_files("#id_file", str(path))
    page.click("button:has-text('Upload and preview')")
    page.wait_for_selector("#dry-run")
    assert "2 are valid and 1 would be rejected" in page.inner_text("#dry-run")
    page.screenshot(path=str(tmp_path / "preview.png"), full_page=True)
    page.click("#start-import")
    page.wait_for_selector("#job-download:not([hidden])")
    assert page.inner_text("#job-created") == "2"
    assert page.inner_text("#job-rejected") == "1"


def test_the_mapping_select_shows_field_labels_not_field_names():
    from django.utils import translation

    from intake.fields import KINDS
    from intake.views import FIELD_LABELS, field_label

    every_field = {field for spec in KINDS.values() for field in spec.fields}
    assert every_field <= set(FIELD_LABELS)
    assert field_label("signup_date") == "Signup date"
    with translation.override("zh-hans"):
        assert field_label("signup_date") == "注册日期"
        assert all(not field_label(field).isascii() or field == "sku" for field in every_field)
