"""Duplicate customers already in the database, and merging (and un-merging) them.

Detection finds three kinds of pairs among live customers:

- the same normalised email (score 100);
- the same normalised phone (score 100);
- similar names in the same city, scored by RapidFuzz's ``token_sort_ratio`` (0-100), which
  ignores word order ("Wang Fang" / "Fang Wang"). Comparing every name with every other is
  n^2, so names are compared only within a block of the same city and the same first letter of
  the name (for Chinese names, the surname); a block is scored with ``rapidfuzz.process.cdist``,
  which does the pairwise work in C.

A merge keeps one record (the survivor), copies the chosen field values from the other, moves
its orders, feedback and interactions to the survivor and marks it ``merged_into`` the survivor.
The :class:`CustomerMerge` row records who did it, what moved and both records' previous values,
which is everything :func:`customer_merge_undo` needs to put things back.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from django.core.exceptions import PermissionDenied
from django.db import models, transaction
from django.db.models import Count
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _
from rapidfuzz import fuzz, process

from customers.events import KINDS as RECORD_KINDS
from customers.events import records_changed_publish
from customers.models import Customer, Feedback, Interaction, Order

from .models import CustomerMerge
from .quality import duplicate_pair_count_forget

# Names at least this similar (token_sort_ratio, 0-100) in the same city are listed. 90 keeps
# one-letter typos and reordered words ("Li Na" / "Na Li") and drops different people who share
# a surname and a city ("Wang Fang" / "Wang Fei" scores 75).
FUZZY_NAME_THRESHOLD = 90
# Larger blocks are split further by the second letter, so one huge city cannot blow up cdist's
# block x block score matrix (5,000 x 5,000 uint8 = 25 MB).
MAX_BLOCK = 5_000

# Fields a merge can take from the duplicate.
MERGE_FIELDS = ("name", "email", "phone", "gender", "birth_date", "city", "region", "country",
                "channel", "signup_date", "owner", "status", "marketing_consent",
                "marketing_consent_at", "attributes")
# Records moved from the duplicate to the survivor: (key in CustomerMerge.moved, model).
MOVED = (("orders", Order), ("feedback", Feedback), ("interactions", Interaction))


@dataclass(frozen=True)
class DuplicatePair:
    customer_id: int
    other_id: int
    reason: str  # "email", "phone" or "name"
    score: float


def _pairs_with_same(field: str) -> list[DuplicatePair]:
    live = Customer.objects.live().exclude(**{field: ""})
    shared = live.values(field).annotate(n=Count("id")).filter(n__gt=1).values(field)
    groups: dict[str, list[int]] = defaultdict(list)
    for pk, value in live.filter(**{f"{field}__in": shared}).order_by("pk").values_list("pk", field):
        groups[value].append(pk)
    return [DuplicatePair(ids[0], other, field, 100.0) for ids in groups.values() for other in ids[1:]]


def _block_key(name: str, depth: int) -> str:
    return name.strip().lower()[:depth]


def _fuzzy_pairs(threshold: float) -> list[DuplicatePair]:
    blocks: dict[tuple[str, str], list[tuple[int, str]]] = defaultdict(list)
    rows = Customer.objects.live().exclude(city="").exclude(name="").values_list("pk", "name", "city")
    for pk, name, city in rows.iterator(chunk_size=10_000):
        blocks[(city.strip().lower(), _block_key(name, 1))].append((pk, name))
    pairs = []
    pending = list(blocks.items())
    while pending:
        (city, prefix), members = pending.pop()
        if len(members) < 2:
            continue
        if len(members) > MAX_BLOCK and len(prefix) < 4:
            split: dict[str, list] = defaultdict(list)
            for pk, name in members:
                split[_block_key(name, len(prefix) + 1)].append((pk, name))
            pending.extend(((city, key), group) for key, group in split.items())
            continue
        names = [name for _pk, name in members]
        scores = process.cdist(names, names, scorer=fuzz.token_sort_ratio, processor=str.lower,
                               score_cutoff=threshold, dtype="uint8")
        for i in range(len(members)):
            for j in scores[i, i + 1:].nonzero()[0]:
                j = i + 1 + int(j)
                a, b = sorted((members[i][0], members[j][0]))
                pairs.append(DuplicatePair(a, b, "name", float(scores[i, j])))
    return pairs


def duplicate_pairs(*, threshold: float = FUZZY_NAME_THRESHOLD) -> list[DuplicatePair]:
    """All candidate pairs, best first; a pair found several ways is listed once."""
    best: dict[tuple[int, int], DuplicatePair] = {}
    for pair in [*_pairs_with_same("email"), *_pairs_with_same("phone"), *_fuzzy_pairs(threshold)]:
        key = (min(pair.customer_id, pair.other_id), max(pair.customer_id, pair.other_id))
        if key not in best or pair.score > best[key].score:
            best[key] = pair
    return sorted(best.values(), key=lambda p: (-p.score, p.customer_id, p.other_id))


# --- merge and undo -----------------------------------------------------------------------

def _field(name: str) -> models.Field:
    return Customer._meta.get_field(name)


def _snapshot(customer: Customer) -> dict:
    """The merge fields as JSON-safe values (dates as ISO text, decimals as text)."""
    data = {}
    for name in MERGE_FIELDS:
        value = getattr(customer, _field(name).attname)
        if isinstance(value, (date, datetime, Decimal)):
            value = value.isoformat() if not isinstance(value, Decimal) else str(value)
        data[name] = value
    return data


def _restore(customer: Customer, snapshot: dict) -> None:
    for name, value in snapshot.items():
        field = _field(name)
        if value is not None and isinstance(field, models.DateTimeField):
            value = parse_datetime(value)
        elif value is not None and isinstance(field, models.DateField):
            value = parse_date(value)
        setattr(customer, field.attname, value)


def customer_merge(*, survivor: Customer, duplicate: Customer, field_choices: dict[str, str],
                   user) -> CustomerMerge:
    """Merge ``duplicate`` into ``survivor``; ``field_choices`` maps a field to "survivor" or
    "duplicate" (fields left out keep the survivor's value). Raises ValueError naming the field."""
    if not user.has_perm("customers.merge_customer"):
        raise PermissionDenied(_("You may not merge customers."))
    if survivor.pk == duplicate.pk:
        raise ValueError(_("A customer cannot be merged into itself."))
    for name, choice in field_choices.items():
        if name not in MERGE_FIELDS:
            raise ValueError(_("%(field)s: not a field that can be merged.") % {"field": name})
        if choice not in ("survivor", "duplicate"):
            raise ValueError(_("%(field)s: choose 'survivor' or 'duplicate', not %(choice)r.")
                             % {"field": name, "choice": choice})
    with transaction.atomic():
        # Lock both rows: two people merging the same pair at once must not both succeed.
        locked = Customer.objects.select_for_update().in_bulk([survivor.pk, duplicate.pk])
        survivor, duplicate = locked[survivor.pk], locked[duplicate.pk]
        for customer in (survivor, duplicate):
            if customer.merged_into_id:
                raise ValueError(_("%(name)s was already merged into another customer.")
                                 % {"name": customer})
        merge = CustomerMerge(survivor=survivor, duplicate=duplicate, field_choices=field_choices,
                              survivor_before=_snapshot(survivor), duplicate_before=_snapshot(duplicate),
                              merged_by=user)
        changed = []
        for name, choice in field_choices.items():
            attname = _field(name).attname
            if choice == "duplicate" and getattr(survivor, attname) != getattr(duplicate, attname):
                setattr(survivor, attname, getattr(duplicate, attname))
                changed.append(name)
        moved = {}
        for key, model in MOVED:
            ids = list(model.objects.filter(customer=duplicate).values_list("pk", flat=True))
            model.objects.filter(pk__in=ids).update(customer=survivor)
            moved[key] = ids
        # Records merged into the duplicate before now belong to the survivor.
        earlier = list(Customer.objects.filter(merged_into=duplicate).values_list("pk", flat=True))
        Customer.objects.filter(pk__in=earlier).update(merged_into=survivor)
        moved["merged_customers"] = earlier
        merge.moved = moved
        merge.save()
        if changed:
            survivor.save(update_fields=[*changed, "updated_at"])
        duplicate.merged_into = survivor
        duplicate.save(update_fields=["merged_into", "updated_at"])
        transaction.on_commit(duplicate_pair_count_forget)  # the data quality page's count
        # Both customers' histories changed: the survivor's scores now count the moved records.
        records_changed_publish(customer_ids=[survivor.pk, duplicate.pk], kinds=RECORD_KINDS)
    return merge


def customer_merge_undo(*, merge: CustomerMerge, user) -> CustomerMerge:
    """Put both customers back as they were before ``merge``, with all their records."""
    if not user.has_perm("customers.merge_customer"):
        raise PermissionDenied(_("You may not undo merges."))
    with transaction.atomic():
        merge = CustomerMerge.objects.select_for_update().get(pk=merge.pk)
        if merge.undone_at:
            raise ValueError(_("This merge was already undone."))
        involved = (merge.survivor_id, merge.duplicate_id)
        later = (CustomerMerge.objects.filter(undone_at__isnull=True, pk__gt=merge.pk)
                 .filter(models.Q(survivor_id__in=involved) | models.Q(duplicate_id__in=involved))
                 .order_by("-pk").first())
        if later:
            raise ValueError(_("Undo the later merge #%(id)s of these customers first.") % {"id": later.pk})
        locked = Customer.objects.select_for_update().in_bulk(involved)
        survivor, duplicate = locked[merge.survivor_id], locked[merge.duplicate_id]
        for key, model in MOVED:
            model.objects.filter(pk__in=merge.moved.get(key, []), customer=survivor).update(customer=duplicate)
        Customer.objects.filter(pk__in=merge.moved.get("merged_customers", [])).update(merged_into=duplicate)
        _restore(survivor, merge.survivor_before)
        survivor.save(update_fields=[*MERGE_FIELDS, "updated_at"])
        _restore(duplicate, merge.duplicate_before)
        duplicate.merged_into = None
        duplicate.save(update_fields=[*MERGE_FIELDS, "merged_into", "updated_at"])
        merge.undone_at, merge.undone_by = timezone.now(), user
        merge.save(update_fields=["undone_at", "undone_by"])
        transaction.on_commit(duplicate_pair_count_forget)
        records_changed_publish(customer_ids=involved, kinds=RECORD_KINDS)
    return merge
