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
every record that points at it (orders, feedback, interactions, campaign memberships, service
tasks, recommendations, customers merged into it earlier: any model with a foreign key to
Customer) to the survivor and marks it ``merged_into`` the survivor. The :class:`CustomerMerge`
row records who did it and exactly what it changed, which is what :func:`customer_merge_undo`
takes back, and no more: a change made after the merge is never overwritten (the undo refuses).
"""
from __future__ import annotations

import hashlib
import json
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
from simple_history.exceptions import NotHistoricalModelError
from simple_history.utils import bulk_update_with_history, get_history_manager_for_model

from customers.events import KINDS as RECORD_KINDS
from customers.events import records_changed_publish
from customers.models import Customer

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
#
# A merge records exactly what it changed, in ``CustomerMerge.moved``:
#
#   {"fields": {name: {"old": value, "new": value}},   # survivor fields it filled
#    "records": {accessor: [ids]},                     # rows it moved, per relation to Customer
#    "kept": {accessor: [ids]},                        # rows left on the duplicate (unique clash)
#    "checks": {accessor: {id: digest}}}               # each moved row as the merge left it
#
# and undo puts back exactly that, after checking that nothing it would put back was changed
# since (a later edit is never silently overwritten). Merges recorded before this format
# (``moved`` = {"orders": [...], ...}) are read by ``_plan`` and undone the same way, without
# the per-row checks they did not record.

# Relations to Customer that are not records of the customer: the merge rows themselves, and
# the scores (each customer keeps its own row; the next run scores the survivor on the union).
NOT_MOVED = {("intake.customermerge", "survivor"), ("intake.customermerge", "duplicate"),
             ("customers.customerscore", "customer")}
LEGACY_KEYS = {"orders": "orders", "feedback": "feedback", "interactions": "interactions",
               "merged_customers": "merged_from"}


def _field(name: str) -> models.Field:
    return Customer._meta.get_field(name)


def _relations() -> list:
    """Every one-to-many or one-to-one relation from a model to Customer, found through the
    model registry, so a model added later (in any app) is moved without touching this code."""
    return [rel for rel in Customer._meta.related_objects
            if not rel.many_to_many
            and (rel.related_model._meta.label_lower, rel.field.name) not in NOT_MOVED]


def _json_value(value):
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _python_value(field: models.Field, value):
    if value is not None and isinstance(field, models.DateTimeField):
        return parse_datetime(value)
    if value is not None and isinstance(field, models.DateField):
        return parse_date(value)
    return value


def _snapshot(customer: Customer) -> dict:
    """The merge fields as JSON-safe values (dates as ISO text, decimals as text)."""
    return {name: _json_value(getattr(customer, _field(name).attname)) for name in MERGE_FIELDS}


def _digest_fields(model, fk: models.Field) -> list[str]:
    """The columns that say whether a row was edited: all but its key, the moved foreign key and
    timestamps the database keeps (the scores, which the analytics rewrite on their own, are in
    a table of their own)."""
    skip = {model._meta.pk.attname, fk.attname}
    return [f.attname for f in model._meta.concrete_fields
            if f.attname not in skip and not getattr(f, "auto_now", False)]


def _digests(model, fk: models.Field, ids) -> dict[str, str]:
    names = _digest_fields(model, fk)
    rows = model._default_manager.filter(pk__in=ids).values_list("pk", *names)
    return {str(pk): hashlib.sha256(json.dumps([_json_value(v) for v in values], default=str,
                                               sort_keys=True).encode()).hexdigest()[:20]
            for pk, *values in rows}


def _unique_partners(model, fk: models.Field) -> list[tuple[str, ...]]:
    """For each uniqueness rule that includes ``fk``, the other columns of the rule: a row can
    move to a customer only if no row of that customer has the same values in them. A
    conditional constraint is treated as if it always applied (the row stays; never a crash)."""
    partners = []
    if fk.unique:
        partners.append(())
    rules = [tuple(fields) for fields in model._meta.unique_together]
    rules += [tuple(c.fields) for c in model._meta.constraints
              if isinstance(c, models.UniqueConstraint) and c.fields]
    for fields in rules:
        names = [model._meta.get_field(name) for name in fields]
        if fk in names:
            partners.append(tuple(f.attname for f in names if f is not fk))
    return partners


def _clashing(model, fk: models.Field, ids: list[int], target: Customer) -> set[int]:
    """Those of ``ids`` that would break a uniqueness rule if moved to ``target``."""
    clashing: set[int] = set()
    manager = model._default_manager
    for partners in _unique_partners(model, fk):
        if not partners:
            if manager.filter(**{fk.attname: target.pk}).exists():
                clashing.update(ids)
            continue
        taken = set(manager.filter(**{fk.attname: target.pk}).values_list(*partners))
        for pk, *values in manager.filter(pk__in=ids).values_list("pk", *partners):
            if None not in values and tuple(values) in taken:
                clashing.add(pk)
    return clashing


def _is_historical(model) -> bool:
    try:
        get_history_manager_for_model(model)
    except NotHistoricalModelError:
        return False
    return True


def _move(model, fk: models.Field, ids: list[int], target: Customer, *, user, reason: str) -> None:
    """Point ``ids`` at ``target``, with a history entry per row where the model keeps history."""
    if not ids:
        return
    manager = model._default_manager
    if _is_historical(model):
        rows = list(manager.filter(pk__in=ids))
        for row in rows:
            setattr(row, fk.attname, target.pk)
        bulk_update_with_history(rows, model, [fk.name], default_user=user, default_change_reason=reason)
    else:
        manager.filter(pk__in=ids).update(**{fk.attname: target.pk})


def _save_with_history(customer: Customer, fields: list[str], *, user, reason: str) -> None:
    customer._history_user = user
    customer._change_reason = reason
    customer.save(update_fields=[*fields, "updated_at"])


def customer_merge(*, survivor: Customer, duplicate: Customer, field_choices: dict[str, str],
                   user) -> CustomerMerge:
    """Merge ``duplicate`` into ``survivor``; ``field_choices`` maps a field to "survivor" or
    "duplicate" (fields left out keep the survivor's value). Raises ValueError naming the field.

    Every row of every model that points at the duplicate moves to the survivor, except a row
    whose move would break a uniqueness rule (the same campaign on both customers): it stays on
    the duplicate and is listed under ``kept``."""
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
        merge = CustomerMerge.objects.create(
            survivor=survivor, duplicate=duplicate, field_choices=field_choices,
            survivor_before=_snapshot(survivor), duplicate_before=_snapshot(duplicate), merged_by=user)
        reason = _("Merged customer #%(duplicate)s into #%(survivor)s (merge #%(merge)s)") % {
            "duplicate": duplicate.pk, "survivor": survivor.pk, "merge": merge.pk}
        fields = {}
        for name, choice in field_choices.items():
            attname = _field(name).attname
            old, new = getattr(survivor, attname), getattr(duplicate, attname)
            if choice == "duplicate" and old != new:
                setattr(survivor, attname, new)
                fields[name] = {"old": _json_value(old), "new": _json_value(new)}
        records, kept, checks = {}, {}, {}
        for rel in _relations():
            model, fk, key = rel.related_model, rel.field, rel.get_accessor_name()
            ids = sorted(model._default_manager.filter(**{fk.attname: duplicate.pk})
                         .values_list("pk", flat=True))
            if not ids:
                continue
            stay = _clashing(model, fk, ids, survivor)
            move = [pk for pk in ids if pk not in stay]
            _move(model, fk, move, survivor, user=user, reason=reason)
            if move:
                records[key] = move
                checks[key] = _digests(model, fk, move)
            if stay:
                kept[key] = sorted(stay)
        merge.moved = {"fields": fields, "records": records, "kept": kept, "checks": checks}
        merge.save(update_fields=["moved"])
        if fields:
            _save_with_history(survivor, list(fields), user=user, reason=reason)
        duplicate.merged_into = survivor
        _save_with_history(duplicate, ["merged_into"], user=user, reason=reason)
        transaction.on_commit(duplicate_pair_count_forget)  # the data quality page's count
        # Both customers' histories changed: the survivor's scores now count the moved records.
        records_changed_publish(customer_ids=[survivor.pk, duplicate.pk], kinds=RECORD_KINDS, actor=user)
    return merge


def _plan(merge: CustomerMerge) -> dict:
    """What ``merge`` changed, in the current format whatever format it was recorded in."""
    moved = merge.moved or {}
    if "records" in moved:
        return moved
    fields = {}
    for name, choice in (merge.field_choices or {}).items():
        old, new = merge.survivor_before.get(name), merge.duplicate_before.get(name)
        if choice == "duplicate" and old != new:
            fields[name] = {"old": old, "new": new}
    records = {LEGACY_KEYS[key]: ids for key, ids in moved.items() if key in LEGACY_KEYS and ids}
    return {"fields": fields, "records": records, "kept": {}, "checks": {}}


def _undo_conflicts(merge: CustomerMerge, plan: dict, survivor: Customer, duplicate: Customer) -> list[str]:
    """Why undoing ``merge`` would overwrite or lose a later change; empty when it would not."""
    problems = []
    current = _snapshot(survivor)
    for name, change in plan["fields"].items():
        if current.get(name) != change["new"]:
            problems.append(_("%(customer)s: %(field)s was changed after the merge.") % {
                "customer": survivor, "field": _field(name).verbose_name})
    relations = {rel.get_accessor_name(): rel for rel in _relations()}
    for key, ids in plan["records"].items():
        rel = relations.get(key)
        if rel is None:
            continue
        model, fk = rel.related_model, rel.field
        label = model._meta.verbose_name_plural
        owners = dict(model._default_manager.filter(pk__in=ids).values_list("pk", fk.attname))
        missing = [pk for pk in ids if pk not in owners]
        elsewhere = [pk for pk, owner in owners.items() if owner != survivor.pk]
        if missing:
            problems.append(_("Records deleted after the merge (%(records)s): %(ids)s.") % {
                "records": label, "ids": ", ".join(f"#{pk}" for pk in missing)})
        if elsewhere:
            problems.append(_("Records moved to another customer after the merge (%(records)s): %(ids)s.") % {
                "records": label, "ids": ", ".join(f"#{pk}" for pk in sorted(elsewhere))})
        expected = plan["checks"].get(key)
        if expected:
            now = _digests(model, fk, ids)
            edited = sorted(int(pk) for pk, digest in now.items() if expected.get(pk) != digest)
            if edited:
                problems.append(_("Records edited after the merge (%(records)s): %(ids)s.") % {
                    "records": label, "ids": ", ".join(f"#{pk}" for pk in edited)})
        back = [pk for pk in ids if owners.get(pk) == survivor.pk]
        clashing = _clashing(model, fk, back, duplicate)
        if clashing:
            problems.append(_(
                "Records that cannot go back because %(customer)s has an equal one now (%(records)s): %(ids)s.") % {
                "records": label, "customer": duplicate,
                "ids": ", ".join(f"#{pk}" for pk in sorted(clashing))})
    return problems


class MergeUndoRefused(ValueError):
    """Undoing the merge would overwrite or lose a change made after it; ``reasons`` says which."""

    def __init__(self, reasons: list[str]):
        self.reasons = reasons
        super().__init__(_("The merge cannot be undone: %(reasons)s") % {"reasons": " ".join(reasons)})


def customer_merge_undo(*, merge: CustomerMerge, user) -> CustomerMerge:
    """Take back exactly what ``merge`` changed: the survivor's fields it filled get their old
    values, the rows it moved go back to the duplicate, the duplicate is live again. Anything
    changed since that undo would overwrite refuses it (``MergeUndoRefused``, with the reasons)."""
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
        plan = _plan(merge)
        problems = _undo_conflicts(merge, plan, survivor, duplicate)
        if problems:
            raise MergeUndoRefused(problems)
        reason = _("Undid merge #%(merge)s of customer #%(duplicate)s into #%(survivor)s") % {
            "merge": merge.pk, "duplicate": duplicate.pk, "survivor": survivor.pk}
        relations = {rel.get_accessor_name(): rel for rel in _relations()}
        for key, ids in plan["records"].items():
            rel = relations.get(key)
            if rel is not None:
                _move(rel.related_model, rel.field, ids, duplicate, user=user, reason=reason)
        if plan["fields"]:
            for name, change in plan["fields"].items():
                field = _field(name)
                setattr(survivor, field.attname, _python_value(field, change["old"]))
            _save_with_history(survivor, list(plan["fields"]), user=user, reason=reason)
        duplicate.merged_into = None
        _save_with_history(duplicate, ["merged_into"], user=user, reason=reason)
        merge.undone_at, merge.undone_by = timezone.now(), user
        merge.save(update_fields=["undone_at", "undone_by"])
        transaction.on_commit(duplicate_pair_count_forget)
        records_changed_publish(customer_ids=involved, kinds=RECORD_KINDS, actor=user)
    return merge
