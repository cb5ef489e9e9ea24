"""A database built before intake and webhooks became apps migrates forward with every row kept.

The old tables keep their names; only Django's state and the content types move. The test
migrates a real database back to the last migration of the old layout, writes rows there the way
that code did (through the historical models), grants the old permissions, and migrates forward.
"""
import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

OLD_LAYOUT = [("customers", "0007_drop_customer_pattern_indexes"), ("analytics", "0002_chunked_runs"),
              ("campaigns", "0003_manual_tasks")]


@pytest.mark.django_db(transaction=True)
def test_a_database_of_the_old_layout_keeps_its_rows_and_grants():
    executor = MigrationExecutor(connection)
    # The new apps' own migrations must be unapplied too, or the state would not be the old one.
    executor.migrate(OLD_LAYOUT + [("intake", None), ("webhooks", None)])
    old = MigrationExecutor(connection).loader.project_state(OLD_LAYOUT).apps
    User = old.get_model("auth", "User")
    Group = old.get_model("auth", "Group")
    Permission = old.get_model("auth", "Permission")
    ContentType = old.get_model("contenttypes", "ContentType")
    Customer = old.get_model("customers", "Customer")
    staff = User.objects.create(username="old-staff")
    a = Customer.objects.create(external_id="A", name="Old A", email="", phone="")
    b = Customer.objects.create(external_id="B", name="Old B", email="", phone="")
    job = old.get_model("customers", "ImportJob").objects.create(
        kind="orders", file="imports/2026/11/old.csv", status="succeeded", total=7, created=5,
        rejected=2, created_by=staff)
    merge = old.get_model("customers", "CustomerMerge").objects.create(
        survivor=a, duplicate=b, moved={"orders": [1, 2]}, merged_by=staff)
    endpoint = old.get_model("customers", "WebhookEndpoint").objects.create(
        url="https://hooks.example.com/crm", secret="s3cret", events=["webhook.ping"], created_by=staff)
    delivery = old.get_model("customers", "WebhookDelivery").objects.create(
        endpoint=endpoint, event_type="webhook.ping", event_id="5a0c7a57-6b9b-4a47-9a1f-3f2b1c9d0e11",
        payload={"id": 1}, status="succeeded", attempts=1)
    old.get_model("customers", "WebhookAttempt").objects.create(
        delivery=delivery, number=1, started_at=timezone.now(), duration_ms=12, status_code=200,
        outcome="succeeded")
    # The old layout's content type and permission, granted to a group and a user.
    job_type, _ = ContentType.objects.get_or_create(app_label="customers", model="importjob")
    quality, _ = Permission.objects.get_or_create(content_type=job_type, codename="view_data_quality",
                                                  defaults={"name": "Can see the data quality page"})
    auditors = Group.objects.create(name="Auditors")
    auditors.permissions.add(quality)
    staff.user_permissions.add(quality)

    call_command("migrate", verbosity=0)

    from django.contrib.auth.models import Group as NewGroup
    from django.contrib.auth.models import User as NewUser
    from django.contrib.contenttypes.models import ContentType as NewContentType

    from intake.models import CustomerMerge, ImportJob
    from webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint

    moved_job = ImportJob.objects.get(pk=job.pk)
    assert (moved_job.total, moved_job.created, moved_job.rejected, moved_job.created_by_id) == (7, 5, 2, staff.pk)
    assert CustomerMerge.objects.get(pk=merge.pk).moved == {"orders": [1, 2]}
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).secret == "s3cret"
    assert WebhookDelivery.objects.get(pk=delivery.pk).attempts == 1
    assert WebhookAttempt.objects.get(delivery_id=delivery.pk).status_code == 200
    # The content type moved with its id, so the grants still hold under the new app label.
    assert NewContentType.objects.get(app_label="intake", model="importjob").pk == job_type.pk
    assert not NewContentType.objects.filter(app_label="customers", model="importjob").exists()
    assert NewGroup.objects.get(name="Auditors").permissions.filter(codename="view_data_quality",
                                                                     content_type__app_label="intake").exists()
    assert NewUser.objects.get(pk=staff.pk).has_perm("intake.view_data_quality")
