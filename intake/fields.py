"""What each import kind accepts: canonical columns, header aliases, and value parsers.

Every parser takes the raw cell (a string from CSV, or a number / datetime from XLSX) and returns
the clean value, or raises :class:`FieldError` with a reason a person can act on.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from functools import lru_cache

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

from customers import bounds
from customers.models import Channel, CustomerStatus, Gender, InteractionKind, OrderStatus
from customers.normalise import normalise_email, normalise_phone

# Largest amount (order total, line price, product price) accepted from a file. Above this a
# value is far likelier to be a typo or a column mix-up (an order id read as a price) than a sale.
MAX_AMOUNT = Decimal(1000000)
# Largest quantity on one order line, for the same reason.
MAX_QUANTITY = 10_000


class FieldError(Exception):
    def __init__(self, field: str, reason: str):
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


@dataclass(frozen=True)
class KindSpec:
    fields: tuple[str, ...]
    required: tuple[str, ...]


KINDS: dict[str, KindSpec] = {
    "customers": KindSpec(
        fields=("customer_id", "name", "email", "phone", "gender", "birth_date", "city", "region",
                "country", "channel", "signup_date", "consent", "status"),
        # A new customer needs a name, an existing one does not: checked when matching.
        required=(),
    ),
    "products": KindSpec(fields=("sku", "name", "category", "price"), required=("sku", "name")),
    "orders": KindSpec(
        fields=("order_id", "customer_id", "ordered_at", "amount", "sku", "quantity", "unit_price",
                "channel", "status"),
        required=("order_id", "customer_id", "ordered_at"),
    ),
    "feedback": KindSpec(
        fields=("customer_id", "created_at", "rating", "text", "channel", "order_id", "sku"),
        required=("customer_id", "created_at"),
    ),
    "interactions": KindSpec(
        fields=("customer_id", "occurred_at", "kind", "outcome", "note"),
        required=("customer_id", "occurred_at", "kind"),
    ),
}

# Header spellings seen in exports from ERPs, shops and spreadsheets, compared after
# :func:`header_key` (lower case, no spaces, dashes or underscores).
_ALIASES: dict[str, tuple[str, ...]] = {
    "customer_id": ("customer_id", "customerid", "customer", "customer_no", "customer_number",
                    "client_id", "member_id", "external_id", "客户id", "客户编号", "客户号",
                    "会员id", "会员编号", "用户id"),
    "name": ("name", "full_name", "customer_name", "product_name", "姓名", "客户名称", "客户姓名",
             "名称", "商品名称", "产品名称"),
    "email": ("email", "e-mail", "email_address", "mail", "邮箱", "电子邮箱", "电子邮件"),
    "phone": ("phone", "mobile", "telephone", "tel", "phone_number", "cell", "手机", "手机号",
              "手机号码", "电话", "电话号码", "联系电话"),
    "gender": ("gender", "sex", "性别"),
    "birth_date": ("birth_date", "birthday", "date_of_birth", "dob", "生日", "出生日期"),
    "city": ("city", "town", "城市", "市"),
    "region": ("region", "province", "state", "省份", "省", "地区"),
    "country": ("country", "国家"),
    "channel": ("channel", "source", "渠道", "来源", "来源渠道", "销售渠道"),
    "signup_date": ("signup_date", "registered_at", "registration_date", "join_date", "注册日期",
                    "注册时间", "入会日期"),
    "consent": ("consent", "marketing_consent", "opt_in", "营销同意", "同意营销"),
    "status": ("status", "状态", "订单状态"),
    "sku": ("sku", "product_id", "product_code", "item_code", "商品编码", "商品编号", "产品编码",
            "货号", "sku编码"),
    "category": ("category", "品类", "类别", "分类", "商品类别"),
    "price": ("price", "list_price", "价格", "售价"),
    "order_id": ("order_id", "order_no", "order_number", "orderid", "订单号", "订单编号", "订单id"),
    "ordered_at": ("ordered_at", "order_date", "transaction_date", "purchase_date",
                   "交易日期", "下单时间", "下单日期", "订单日期", "交易时间"),
    "amount": ("amount", "total", "total_amount", "order_total", "交易金额", "金额", "订单金额",
               "总金额", "实付金额"),
    "quantity": ("quantity", "qty", "数量", "购买数量"),
    "unit_price": ("unit_price", "单价"),
    "created_at": ("created_at", "feedback_date", "review_date", "评价时间", "评价日期", "反馈时间"),
    "rating": ("rating", "score", "stars", "评分", "星级", "打分"),
    "text": ("text", "comment", "review", "feedback", "评价", "评论", "评价内容", "反馈内容"),
    "occurred_at": ("occurred_at", "interaction_date", "contact_date", "联系时间",
                    "互动时间"),
    "kind": ("kind", "type", "interaction_type", "类型", "互动类型"),
    "outcome": ("outcome", "result", "结果"),
    "note": ("note", "notes", "remark", "remarks", "备注", "说明"),
}


# Bare "date" / "日期" columns mean the event date of whichever kind is being imported.
_DATE_WORDS = {"date", "datetime", "time", "日期", "时间"}
_EVENT_DATE = {"orders": "ordered_at", "feedback": "created_at", "interactions": "occurred_at"}


def header_key(header: str) -> str:
    return re.sub(r"[\s_\-.]+", "", str(header or "").strip().lower())


_ALIAS_INDEX: dict[str, str] = {}
for _field, _names in _ALIASES.items():
    for _name in _names:
        _ALIAS_INDEX.setdefault(header_key(_name), _field)


def mapping_detect(kind: str, headers: list[str]) -> dict[str, str]:
    """Guess the field of each column: ``{header: field}``, ``""`` for a column we don't know.

    A field is given to the first column that claims it; a later column with the same meaning is
    left unmapped rather than silently overwriting the first.
    """
    allowed = set(KINDS[kind].fields)
    taken: set[str] = set()
    mapping: dict[str, str] = {}
    for header in headers:
        field = _ALIAS_INDEX.get(header_key(header), "")
        if not field and header_key(header) in _DATE_WORDS and kind in _EVENT_DATE:
            field = _EVENT_DATE[kind]
        if field not in allowed or field in taken:
            field = ""
        taken.add(field)
        mapping[header] = field
    return mapping


def mapping_validate(kind: str, mapping: dict[str, str], headers: list[str]) -> dict[str, str]:
    """Check a user mapping; raise ValueError naming the problem."""
    allowed = set(KINDS[kind].fields)
    seen: dict[str, str] = {}
    for header, field in mapping.items():
        if header not in headers:
            raise ValueError(_("The file has no column %(column)r.") % {"column": header})
        if not field:
            continue
        if field not in allowed:
            raise ValueError(_("%(field)r is not a field of %(kind)s imports.") % {"field": field, "kind": kind})
        if field in seen:
            raise ValueError(_("Columns %(a)r and %(b)r are both mapped to %(field)r.")
                             % {"a": seen[field], "b": header, "field": field})
        seen[field] = header
    missing = [f for f in KINDS[kind].required if f not in seen]
    if kind == "customers" and not {"customer_id", "email", "phone"} & seen.keys():
        missing = ["customer_id / email / phone"]
    if missing:
        raise ValueError(_("No column is mapped to the required field(s): %(fields)s.")
                         % {"fields": ", ".join(missing)})
    return {h: mapping.get(h, "") for h in headers}


# --- value parsers -------------------------------------------------------------------------

def text(value) -> str:
    """The cell as stripped text; integral floats from spreadsheets lose their ``.0``."""
    if value is None:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        if value.is_integer():
            return str(int(value))
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    return str(value).strip()


_DATE_FORMATS = ("%Y-%m-%d", "%Y%m%d", "%Y/%m/%d", "%d.%m.%Y", "%Y.%m.%d", "%Y年%m月%d日")
_TIME_FORMATS = ("%H:%M:%S", "%H:%M", "%H:%M:%S.%f")


def _parse_naive(raw: str) -> datetime:
    raw = raw.strip()
    try:
        return datetime.fromisoformat(raw)
    except ValueError:
        pass
    day, _sep, clock = raw.partition(" ")
    if "T" in day and not clock:
        day, _sep, clock = day.partition("T")
    for date_format in _DATE_FORMATS:
        try:
            parsed_day = datetime.strptime(day, date_format)
        except ValueError:
            continue
        if not clock:
            return parsed_day
        for time_format in _TIME_FORMATS:
            try:
                clock_time = datetime.strptime(clock.strip(), time_format).time()
            except ValueError:
                continue
            return datetime.combine(parsed_day.date(), clock_time)
        break
    raise ValueError(raw)


@lru_cache(maxsize=1)
def _default_zone():
    return timezone.get_default_timezone()


def parse_datetime(field: str, value) -> datetime | None:
    """Accepts ISO 8601, 20230115, 2023/1/15, 15.01.2023, with or without a time of day."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime.combine(value, time())
    else:
        raw = text(value)
        if not raw:
            return None
        try:
            parsed = _parse_naive(raw)
        except ValueError:
            raise FieldError(field, _("%(value)r is not a date (use 2023-01-15, 20230115, 2023/1/15 "
                                      "or 15.01.2023).") % {"value": raw}) from None
    if parsed.tzinfo is None:
        # The default zone, looked up once: make_aware's per-call lookup of the active zone
        # (a thread-local) was a tenth of an import's time.
        parsed = parsed.replace(tzinfo=_default_zone())
    # The same bounds as every other door (customers.bounds): from DATA_EARLIEST_DATE to
    # DATA_MAX_FUTURE_DAYS ahead.
    if not bounds.earliest_date() <= parsed.date() or parsed > bounds.latest_event_time():
        raise FieldError(field, _("%(value)s is outside the accepted years.") % {"value": parsed.date()})
    return parsed


def parse_date(field: str, value) -> date | None:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    parsed = parse_datetime(field, value)
    return timezone.localtime(parsed).date() if parsed else None


def parse_birth_date(field: str, value) -> date | None:
    parsed = parse_date(field, value)
    if parsed is not None and parsed > timezone.localdate():
        raise FieldError(field, _("A birth date cannot be in the future."))
    return parsed


_CURRENCY = re.compile(r"(RMB|CNY|USD|EUR|GBP|[¥￥$€£元])", re.IGNORECASE)


def parse_amount(field: str, value, *, allow_zero: bool = True) -> Decimal | None:
    """Money: strips currency symbols and codes and thousand separators; refuses negative and
    absurd values (above :data:`MAX_AMOUNT`)."""
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        raw = text(value)
    else:
        raw = text(value)
    if not raw:
        return None
    cleaned = _CURRENCY.sub("", raw).replace("\u00a0", "").replace(" ", "")
    negative = cleaned.startswith("(") and cleaned.endswith(")")
    cleaned = cleaned.strip("()")
    if re.fullmatch(r"-?\d+,\d{1,2}", cleaned):
        cleaned = cleaned.replace(",", ".")  # a decimal comma: 12,50
    elif re.fullmatch(r"-?\d{1,3}(\.\d{3})+,\d{1,2}", cleaned):
        cleaned = cleaned.replace(".", "").replace(",", ".")  # 1.234,50
    else:
        cleaned = cleaned.replace(",", "").replace("'", "")
    try:
        amount = Decimal(cleaned)
    except InvalidOperation:
        raise FieldError(field, _("%(value)r is not an amount.") % {"value": raw}) from None
    if not amount.is_finite():
        raise FieldError(field, _("%(value)r is not an amount.") % {"value": raw})
    if negative:
        amount = -amount
    if amount < 0:
        raise FieldError(field, _("%(value)r is negative.") % {"value": raw})
    if amount > MAX_AMOUNT:
        raise FieldError(field, _("%(value)r is above the limit of %(limit)s.")
                         % {"value": raw, "limit": MAX_AMOUNT})
    if not allow_zero and amount == 0:
        raise FieldError(field, _("must be more than zero."))
    return amount.quantize(Decimal("0.01"))


def parse_int(field: str, value, *, low: int, high: int) -> int | None:
    raw = text(value)
    if not raw:
        return None
    try:
        number = Decimal(raw.replace(",", ""))
    except InvalidOperation:
        raise FieldError(field, _("%(value)r is not a whole number.") % {"value": raw}) from None
    if number != number.to_integral_value():
        raise FieldError(field, _("%(value)r is not a whole number.") % {"value": raw})
    if not low <= number <= high:
        raise FieldError(field, _("%(value)s is outside %(low)s-%(high)s.")
                         % {"value": raw, "low": low, "high": high})
    return int(number)


def parse_email(field: str, value) -> str:
    raw = text(value)
    try:
        return normalise_email(raw)
    except ValidationError:
        raise FieldError(field, _("%(value)r is not a valid email address.") % {"value": raw}) from None


def parse_phone(field: str, value) -> str:
    raw = text(value)
    try:
        return normalise_phone(raw, settings.PHONE_DEFAULT_REGION)
    except ValidationError:
        raise FieldError(field, _("%(value)r is not a valid phone number for region %(region)s.")
                         % {"value": raw, "region": settings.PHONE_DEFAULT_REGION}) from None


def _choice_parser(choices, extra: dict[str, str]):
    index = {header_key(value): value for value, _label in choices}
    index.update({header_key(str(label)): value for value, label in choices})
    index.update({header_key(k): v for k, v in extra.items()})

    def parse(field: str, value) -> str:
        raw = text(value)
        if not raw:
            return ""
        found = index.get(header_key(raw))
        if found is None:
            raise FieldError(field, _("%(value)r is not one of: %(choices)s.")
                             % {"value": raw, "choices": ", ".join(v for v, _l in choices)})
        return found

    return parse


parse_gender = _choice_parser(Gender.choices, {"m": "male", "f": "female", "男": "male", "女": "female",
                                               "男性": "male", "女性": "female", "其他": "other"})
parse_channel = _choice_parser(Channel.choices, {
    "online": "ecommerce", "web": "ecommerce", "shop": "ecommerce", "线上": "ecommerce",
    "电商": "ecommerce", "网店": "ecommerce", "门店": "store", "线下": "store", "retail": "store",
    "社交": "social", "微信": "social", "wechat": "social", "电话": "phone", "邮件": "email",
    "手工": "manual"})
parse_customer_status = _choice_parser(CustomerStatus.choices, {"活跃": "active", "流失": "churned"})
parse_order_status = _choice_parser(OrderStatus.choices, {
    "complete": "completed", "paid": "completed", "已完成": "completed", "完成": "completed",
    "待处理": "pending", "已取消": "cancelled", "取消": "cancelled", "已退款": "refunded",
    "退款": "refunded"})
parse_interaction_kind = _choice_parser(InteractionKind.choices, {
    "phone": "call", "phonecall": "call", "电话": "call", "来电": "call", "邮件": "email",
    "在线": "chat", "聊天": "chat", "拜访": "visit", "到店": "visit", "投诉": "complaint"})

_TRUE = {"1", "yes", "y", "true", "t", "是", "同意", "x"}
_FALSE = {"0", "no", "n", "false", "f", "否", "不同意"}


def parse_bool(field: str, value) -> bool | None:
    raw = text(value).lower()
    if not raw:
        return None
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise FieldError(field, _("%(value)r is not yes or no.") % {"value": text(value)})


def parse_identifier(field: str, value, *, max_length: int = 64) -> str:
    raw = text(value)
    if len(raw) > max_length:
        raise FieldError(field, _("is longer than %(n)s characters.") % {"n": max_length})
    return raw


def parse_short_text(field: str, value, *, max_length: int) -> str:
    raw = text(value)
    if len(raw) > max_length:
        raise FieldError(field, _("is longer than %(n)s characters.") % {"n": max_length})
    return raw
