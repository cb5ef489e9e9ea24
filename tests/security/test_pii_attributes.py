"""Issue #20 item 10: imported columns that hold contact or identity data (``contact_email``,
``secondary_phone``, ``id_card`` ..., or any column whose value is an e-mail, a phone or an ID
number) are PII: hidden from users without ``customers.view_pii`` wherever attributes are shown,
and never a model input. Failed on the old code: the API showed every attribute to Service."""
from __future__ import annotations

import pandas as pd
import pytest
from django.contrib.auth.models import Permission

from analytics.adapter import read_frames
from customers.pii import is_pii_attribute, looks_like_pii_value, visible_attributes
from tests.factories import CustomerFactory
from tests.security.pii_fixture import PII_ATTRIBUTES, PLAIN_ATTRIBUTES, demo_customer, leaked


@pytest.mark.parametrize("name", [
    "contact_email", "secondary_phone", "home_address", "id_card", "passport", "national_id", "wechat",
    "WeChat ID", "customerEmail", "Mobile No", "tel", "postcode", "birthday", "身份证号", "手机号码",
    "bank_account", "driver_license",
])
def test_contact_and_identity_names_are_pii(name):
    assert is_pii_attribute(name, "whatever")


@pytest.mark.parametrize("value", [
    "a.b@example.org", "+44 20 7946 0958", "+86 138 1234 5678", "13912345678", 13912345678,
    "139-1234-5678", "(555) 123-4567", "11010519491231002X", "110105491231002", "078-05-1120",
    "4111 1111 1111 1111", "call 13912345678 after six", {"backup": "x@y.cn"}, ["+8613912345678"],
])
def test_contact_and_identity_values_are_pii(value):
    assert looks_like_pii_value(value)
    assert is_pii_attribute("note", value)


@pytest.mark.parametrize(("name", "value"), [
    ("contract_type", "Two year"), ("tenure", 14), ("monthly_charges", 70.35), ("total_charges", "1889.5"),
    ("contract_cancelled_at", "2024-01-05T00:00:00Z"), ("signup", "2024-01-05"), ("hotel_nights", 3),
    ("payment_method", "Electronic check"), ("senior_citizen", True), ("customer_since", "20190105"),
    ("internet_service", "Fiber optic"), ("dependents", "No"),
])
def test_descriptive_attributes_are_not_pii(name, value):
    assert not is_pii_attribute(name, value)


def test_visible_attributes_depends_on_view_pii(db, role_user, role_groups):
    attributes = {**PII_ATTRIBUTES, **PLAIN_ATTRIBUTES}
    assert visible_attributes(attributes, user=role_user("Service")) == PLAIN_ATTRIBUTES
    assert visible_attributes(attributes, user=role_user("Sales")) == attributes


@pytest.mark.django_db
def test_api_hides_pii_attributes_from_service(api, role_groups):
    customer = demo_customer()
    service, sales = api("Service"), api("Sales")
    for url in (f"/api/customers/{customer.pk}/", "/api/customers/"):
        body = service.get(url).content.decode()
        assert "Two year" in body
        assert not leaked(body), leaked(body)
    detail = sales.get(f"/api/customers/{customer.pk}/").json()
    assert detail["attributes"] == {**PII_ATTRIBUTES, **PLAIN_ATTRIBUTES}


@pytest.mark.django_db
def test_api_write_without_view_pii_keeps_the_hidden_attributes(api, role_groups):
    customer = demo_customer()
    client = api("Service")
    client.user.user_permissions.add(Permission.objects.get(codename="change_customer"))
    response = client.patch(f"/api/customers/{customer.pk}/",
                            {"attributes": {"contract_type": "One year"}}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["attributes"] == {"contract_type": "One year"}
    customer.refresh_from_db()
    assert customer.attributes == {**PII_ATTRIBUTES, "contract_type": "One year"}


@pytest.mark.django_db
def test_customer_page_and_export_show_no_pii_attributes(client, role_user, role_groups):
    customer = demo_customer()
    client.force_login(role_user("Service"))
    assert not leaked(client.get(f"/customers/{customer.pk}/").content.decode())
    exporter = role_user("Service", username="exporter")
    exporter.user_permissions.add(Permission.objects.get(codename="export_customer"))
    client.force_login(exporter)
    response = client.get("/customers/export.csv")
    assert response.status_code == 200
    body = b"".join(response.streaming_content).decode()
    assert "Jack Green" in body
    assert not leaked(body), leaked(body)


@pytest.mark.django_db
def test_pii_attribute_columns_are_not_model_inputs():
    """An e-mail, a phone or an ID identifies a customer: the churn model's attribute table must
    not carry it, even when only one customer's value shows it (a free-text column)."""
    for i in range(5):
        CustomerFactory(attributes={"contract_type": "Two year", "tenure": i, "contact_email": f"c{i}@x.org",
                                    "remarks": "nice" if i else "call 13912345678"})
    frames = read_frames(pd.Timestamp("2026-01-01"), without=("orders", "items", "interactions"))
    columns = set().union(*(a.keys() for a in frames.customers["attributes"]))
    assert columns == {"contract_type", "tenure"}
