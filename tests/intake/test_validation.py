"""Each kind of bad value is rejected with the field and a reason; good spellings are accepted."""
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from customers.models import Customer, Feedback, Interaction, Order
from intake.services.importers import import_records
from tests.factories import CustomerFactory, ProductFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop(db):
    CustomerFactory(external_id="C1", name="Zhang Wei", email="zw@example.com")
    ProductFactory(sku="TEA-1", name="Green tea", price=Decimal(10))


def only_error(result) -> dict:
    assert result.rejected == 1 and result.total == 1, result.as_dict()
    assert len(result.errors) == 1, result.errors
    return result.errors[0]


ORDER = {"order_id": "O1", "customer_id": "C1", "ordered_at": "2024-03-01", "amount": "30"}


@pytest.mark.parametrize("changes, field, reason", [
    ({"ordered_at": "31/31/2024"}, "ordered_at", "is not a date"),
    ({"ordered_at": "2024-02-30"}, "ordered_at", "is not a date"),
    ({"amount": "-12.50"}, "amount", "is negative"),
    ({"amount": "(12.50)"}, "amount", "is negative"),
    ({"amount": "¥ 2,000,000"}, "amount", "above the limit of 1000000"),
    ({"amount": "twelve"}, "amount", "is not an amount"),
    ({"customer_id": "C404"}, "customer_id", "no customer has the id 'C404'"),
    ({"order_id": ""}, "order_id", "is required"),
    ({"sku": "NOPE"}, "sku", "no product has the SKU 'NOPE'"),
    ({"sku": "TEA-1", "quantity": "0"}, "quantity", "outside 1-10000"),
    ({"sku": "TEA-1", "quantity": "1.5"}, "quantity", "is not a whole number"),
    ({"status": "lost"}, "status", "is not one of"),
])
def test_bad_order_values(shop, changes, field, reason):
    error = only_error(import_records(kind="orders", records=[{**ORDER, **changes}], user=None))
    assert error["field"] == field
    assert reason in error["reason"]
    assert error["line"] == 1
    assert not Order.objects.exists()


@pytest.mark.parametrize("changes, field, reason", [
    ({"email": "not-an-email"}, "email", "is not a valid email address"),
    ({"phone": "12345"}, "phone", "is not a valid phone number for region CN"),
    ({"birth_date": "someday"}, "birth_date", "is not a date"),
    ({"gender": "robot"}, "gender", "is not one of"),
    ({"consent": "maybe"}, "consent", "is not yes or no"),
    ({"customer_id": "", "email": "", "phone": ""}, "customer_id", "needs a customer id, email or phone"),
    ({"name": ""}, "name", "is required for a new customer"),
])
def test_bad_customer_values(db, changes, field, reason):
    record = {"customer_id": "C9", "name": "Li Na", "email": "ln@example.com", **changes}
    error = only_error(import_records(kind="customers", records=[record], user=None))
    assert (error["field"], reason in error["reason"]) == (field, True), error


def test_rating_outside_one_to_five_and_unknown_interaction_kind(shop):
    error = only_error(import_records(kind="feedback", user=None, records=[
        {"customer_id": "C1", "created_at": "2024-01-01", "rating": "6", "text": "ok"}]))
    assert error["field"] == "rating" and "outside 1-5" in error["reason"]
    error = only_error(import_records(kind="interactions", user=None, records=[
        {"customer_id": "C1", "occurred_at": "2024-01-01", "kind": "telepathy"}]))
    assert error["field"] == "kind" and "'telepathy' is not one of: call, email, chat" in error["reason"]
    assert not Feedback.objects.exists() and not Interaction.objects.exists()


def test_rows_duplicated_within_the_file(shop):
    result = import_records(kind="customers", user=None, records=[
        {"customer_id": "C7", "name": "A"}, {"customer_id": "C8", "name": "B"},
        {"customer_id": "C7", "name": "A again"}])
    assert (result.created, result.rejected) == (2, 1)
    assert result.errors[0]["line"] == 3
    assert result.errors[0]["reason"] == "duplicates line 1 of the file."


def test_a_row_can_have_several_errors_and_is_counted_once(db):
    result = import_records(kind="customers", user=None, records=[
        {"customer_id": "C1", "name": "X", "email": "bad", "phone": "1", "birth_date": "never"}])
    assert result.rejected == 1
    assert {e["field"] for e in result.errors} == {"email", "phone", "birth_date"}


@pytest.mark.parametrize("raw, expected", [
    ("2023-01-15", datetime(2023, 1, 15)), ("20230115", datetime(2023, 1, 15)),
    ("2023/1/15", datetime(2023, 1, 15)), ("15.01.2023", datetime(2023, 1, 15)),
    ("2023-01-15 08:30", datetime(2023, 1, 15, 8, 30)), ("2023/1/15 8:30:15", datetime(2023, 1, 15, 8, 30, 15)),
    ("2023-01-15T08:30:00Z", datetime(2023, 1, 15, 8, 30)), ("2023年1月15日", datetime(2023, 1, 15)),
])
def test_date_spellings(shop, raw, expected):
    result = import_records(kind="orders", user=None, records=[{**ORDER, "ordered_at": raw}])
    assert result.created == 1, result.errors
    assert Order.objects.get().ordered_at == expected.replace(tzinfo=UTC)


@pytest.mark.parametrize("raw, expected", [
    ("¥1,234.50", "1234.50"), ("$ 99", "99.00"), ("€12,50", "12.50"), ("£1.234,50", "1234.50"),
    ("RMB 300", "300.00"), ("CNY1,000", "1000.00"), ("88元", "88.00"), ("0", "0.00"),
])
def test_amount_spellings(shop, raw, expected):
    result = import_records(kind="orders", user=None, records=[{**ORDER, "amount": raw}])
    assert result.created == 1, result.errors
    assert Order.objects.get().total_amount == Decimal(expected)


def test_customer_values_are_normalised_and_unknown_columns_kept(db):
    result = import_records(kind="customers", user=None, records=[{
        "客户编号": "C5", "姓名": "王芳", "手机": "138 0013 8000", "邮箱": " WF@Example.COM ",
        "性别": "女", "生日": "1990/5/6", "渠道": "门店", "VIP等级": "gold"}])
    assert result.created == 1, result.errors
    customer = Customer.objects.get(external_id="C5")
    assert (customer.name, customer.phone, customer.email) == ("王芳", "+8613800138000", "wf@example.com")
    assert (customer.gender, customer.birth_date, customer.channel) == ("female", date(1990, 5, 6), "store")
    assert customer.attributes == {"VIP等级": "gold"}


def test_order_lines_grouped_by_order_id(shop):
    ProductFactory(sku="TEA-2", name="Black tea", price=Decimal(7))
    result = import_records(kind="orders", user=None, records=[
        {"order_id": "O1", "customer_id": "C1", "ordered_at": "2024-03-01", "sku": "TEA-1", "quantity": "2"},
        {"order_id": "O1", "customer_id": "C1", "ordered_at": "2024-03-01", "sku": "TEA-2", "quantity": "1",
         "unit_price": "6.5"},
        {"order_id": "O2", "customer_id": "C1", "ordered_at": "2024-03-02", "amount": "15"},
    ])
    assert (result.created, result.rejected) == (3, 0), result.errors
    order = Order.objects.get(external_id="O1")
    assert order.total_amount == Decimal("26.50")
    assert sorted((i.product.sku, i.quantity, i.unit_price) for i in order.items.all()) == [
        ("TEA-1", 2, Decimal("10.00")), ("TEA-2", 1, Decimal("6.50"))]
    assert not Order.objects.get(external_id="O2").items.exists()


def test_one_bad_line_rejects_the_whole_order(shop):
    result = import_records(kind="orders", user=None, records=[
        {**ORDER, "sku": "TEA-1"}, {**ORDER, "sku": "GONE"}])
    assert result.rejected == 2 and not Order.objects.exists()
    assert [e["field"] for e in result.errors] == ["order_id", "sku"]
    assert result.errors[0]["reason"] == "line 2 of the same order was rejected."


def test_missing_customers_created_on_request(shop):
    result = import_records(kind="orders", user=None, records=[{**ORDER, "customer_id": "NEW-1"}])
    assert result.rejected == 1
    from intake.services.importers import ImportOptions

    result = import_records(kind="orders", user=None, records=[{**ORDER, "customer_id": "NEW-1"}],
                            options=ImportOptions(create_missing_customers=True))
    assert result.created == 1
    assert Order.objects.get().customer.external_id == "NEW-1"


def test_feedback_and_interactions_import_once_and_feedback_is_analysed(shop, django_capture_on_commit_callbacks):
    feedback = [{"客户编号": "C1", "评价时间": "2024-05-01 10:00", "评分": "5", "评价": "很好，物流很快",
                 "sku": "TEA-1"},
                {"customer_id": "C1", "created_at": "2024-05-02", "rating": "1", "text": "Terrible, late delivery"}]
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        first = import_records(kind="feedback", records=feedback, user=None)
    assert len(callbacks) == 1
    assert (first.created, first.rejected) == (2, 0), first.errors
    again = import_records(kind="feedback", records=feedback, user=None)
    assert (again.created, again.unchanged) == (0, 2)
    stored = Feedback.objects.get(rating=5)
    assert stored.product.sku == "TEA-1"
    # Queued after commit and run in-process here: every new text gets its sentiment.
    assert not Feedback.objects.filter(sentiment_score__isnull=True).exists()

    interactions = [{"customer_id": "C1", "occurred_at": "2024-05-03", "kind": "投诉", "note": "late"},
                    {"customer_id": "C1", "occurred_at": "2024-05-03", "kind": "phone"}]
    assert import_records(kind="interactions", records=interactions, user=None).created == 2
    assert import_records(kind="interactions", records=interactions, user=None).unchanged == 2
    assert sorted(Interaction.objects.values_list("kind", flat=True)) == ["call", "complaint"]
