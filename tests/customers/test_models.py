"""Customer records: normalised contact details, database constraints, the audit trail."""
from datetime import datetime, timezone
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from customers.models import Customer, Feedback, Order, OrderItem, Product
from customers.normalise import normalise_email, normalise_phone

WHEN = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize(("raw", "expected"), [
    ("  Alice.Smith@Example.COM ", "alice.smith@example.com"),
    ("", ""),
    (None, ""),
])
def test_email_is_stored_lower_case(raw, expected):
    assert normalise_email(raw) == expected


def test_invalid_email_is_rejected_with_a_reason():
    with pytest.raises(ValidationError):
        normalise_email("not-an-address")


@pytest.mark.parametrize(("raw", "region", "expected"), [
    ("138 0013 8000", "CN", "+8613800138000"),
    ("+86 138-0013-8000", "US", "+8613800138000"),
    ("(415) 555-2671", "US", "+14155552671"),
    ("020 7946 0958", "GB", "+442079460958"),
])
def test_phone_is_stored_in_e164(raw, region, expected):
    assert normalise_phone(raw, region) == expected


@pytest.mark.parametrize("raw", ["12", "call me", "+1 000 000 0000"])
def test_invalid_phone_is_rejected(raw):
    with pytest.raises(ValidationError):
        normalise_phone(raw, "US")


@pytest.mark.django_db
def test_save_normalises_contact_details():
    customer = Customer.objects.create(name="Li Wei", email="Li.Wei@Example.com", phone="13800138000",
                                       external_id="")
    customer.refresh_from_db()
    assert customer.email == "li.wei@example.com"
    assert customer.phone == "+8613800138000"
    assert customer.external_id is None


@pytest.mark.django_db
def test_clean_names_each_bad_field():
    customer = Customer(name="X", email="nope", phone="12")
    with pytest.raises(ValidationError) as caught:
        customer.full_clean()
    assert {"email", "phone"} <= set(caught.value.message_dict)


@pytest.mark.django_db
def test_blank_external_ids_do_not_collide_but_set_ones_must_be_unique():
    Customer.objects.create(name="A")
    Customer.objects.create(name="B")
    Customer.objects.create(name="C", external_id="ERP-1")
    with pytest.raises(IntegrityError), transaction.atomic():
        Customer.objects.create(name="D", external_id="ERP-1")


def _rejected(**update):
    """True when the database itself refuses ``update`` on a customer (bypassing save())."""
    customer = Customer.objects.create(name="Z")
    try:
        with transaction.atomic():
            Customer.objects.filter(pk=customer.pk).update(**update)
    except IntegrityError:
        return True
    return False


@pytest.mark.django_db
@pytest.mark.parametrize("update", [
    {"email": "Upper@Example.com"},
    {"phone": "13800138000"},
    {"rfm_r": 6},
    {"rfm_f": 0},
    {"churn_probability": 1.2},
    {"p_alive": -0.1},
    {"loyalty_score": 2},
    {"sentiment_score": -1.5},
    {"total_spent": Decimal("-1")},
    {"clv_12m": Decimal("-5")},
])
def test_database_rejects_out_of_range_customer_values(update):
    assert _rejected(**update)


@pytest.mark.django_db
@pytest.mark.parametrize("update", [
    {"rfm_r": 5, "rfm_f": 1, "rfm_m": 3, "churn_probability": 0.0, "p_alive": 1.0,
     "sentiment_score": -1.0, "total_spent": Decimal("0")},
])
def test_database_accepts_boundary_values(update):
    assert not _rejected(**update)


@pytest.fixture
def order(db):
    customer = Customer.objects.create(name="Buyer")
    return Order.objects.create(customer=customer, ordered_at=WHEN, total_amount=Decimal("10.00"))


@pytest.mark.django_db
def test_database_rejects_negative_amounts_and_bad_quantities(order):
    product = Product.objects.create(sku="SKU-1", name="Tea", price=Decimal("5"))
    with pytest.raises(IntegrityError), transaction.atomic():
        Order.objects.filter(pk=order.pk).update(total_amount=Decimal("-0.01"))
    with pytest.raises(IntegrityError), transaction.atomic():
        OrderItem.objects.create(order=order, product=product, quantity=0, unit_price=Decimal("1"))
    with pytest.raises(IntegrityError), transaction.atomic():
        OrderItem.objects.create(order=order, product=product, quantity=1, unit_price=Decimal("-1"))
    with pytest.raises(IntegrityError), transaction.atomic():
        Product.objects.filter(pk=product.pk).update(price=Decimal("-3"))
    OrderItem.objects.create(order=order, product=product, quantity=2, unit_price=Decimal("0"))
    assert order.items.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(("rating", "ok"), [(None, True), (1, True), (5, True), (0, False), (6, False)])
def test_feedback_rating_must_be_1_to_5(order, rating, ok):
    def create():
        with transaction.atomic():
            Feedback.objects.create(customer=order.customer, created_at=WHEN, rating=rating, text="ok")

    if ok:
        create()
    else:
        with pytest.raises(IntegrityError):
            create()


@pytest.mark.django_db
def test_deleting_a_customer_with_orders_is_refused(order):
    from django.db.models import ProtectedError

    with pytest.raises(ProtectedError):
        order.customer.delete()
    assert Order.objects.filter(pk=order.pk).exists()


@pytest.mark.django_db
def test_audit_trail_records_who_changed_what(django_user_model):
    editor = django_user_model.objects.create_user("editor")
    customer = Customer.objects.create(name="Old name", city="Shanghai")
    customer._history_user = editor
    customer.name = "New name"
    customer.save()
    latest, previous = customer.history.all()[:2]
    delta = latest.diff_against(previous)
    assert latest.history_user == editor
    assert [(c.field, c.old, c.new) for c in delta.changes] == [("name", "Old name", "New name")]


@pytest.mark.django_db
def test_score_writes_by_the_pipeline_leave_no_history():
    customer = Customer.objects.create(name="Scored")
    Customer.objects.filter(pk=customer.pk).update(rfm_r=3)
    assert customer.history.count() == 1
    assert "rfm_r" not in {f.name for f in Customer.history.model._meta.fields}
