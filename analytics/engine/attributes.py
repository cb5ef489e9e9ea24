"""Imported customer attributes (``Customer.attributes``) as model inputs.

A contract business (telecom, subscriptions, SaaS) imports its customers with columns the CRM
has no field for: tenure, contract type, monthly charges, payment method. The intake keeps them
in ``customers.attributes``, one JSON object per customer. This module decides, from the values
alone, which of them a model can use and how:

* a column is **numeric** when nearly all its known values (:data:`NUMERIC_SHARE`) parse as
  numbers and none is written with a leading zero (a postcode, a code); it enters the model as the number, with the median of the training rows filled in
  where it is missing and a ``missing`` flag column when any value was missing;
* otherwise it is **categorical**: one-hot columns for the frequent levels only (at least
  :data:`MIN_LEVEL_COUNT` customers and :data:`MIN_LEVEL_SHARE` of the known values, at most
  :data:`MAX_LEVELS`); a rare level, an unknown one and a missing value are all zeros;
* a column is **left out**, with the reason kept for the model card, when it identifies the
  customer rather than describes them (unique, or nearly so, per customer: an account number,
  a name, a timestamp), when it has many levels of which the frequent ones cover little
  (high cardinality), when it is almost always missing, or when it never varies.

The choices are made once on the training population (:func:`fit_encoder`) and frozen in an
:class:`AttributeEncoder`, so the full run and a rescore of a few customers encode alike.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

# Model column names: "attr:<name>" (numeric), "attr:<name>:missing", "attr:<name>=<level>".
PREFIX = "attr:"
MISSING_SUFFIX = ":missing"
# "Nearly all": a column of numbers with a few blanks or typos ("n/a") is still numeric.
NUMERIC_SHARE = 0.95
# A level is kept if at least this many customers, and this share of the known values, have it:
# below that its one-hot column would be fitted on a handful of rows.
MIN_LEVEL_COUNT = 20
MIN_LEVEL_SHARE = 0.01
MAX_LEVELS = 20
# Identifier-like: this share of the known values (or more) are distinct. A description is
# shared by many customers; an identifier, a name or a timestamp by one.
IDENTIFIER_UNIQUE_SHARE = 0.9
# Integer-valued numbers distinct per customer (account numbers) are identifiers too; a measure
# such as total charges can be nearly unique but is not integer-valued.
NUMERIC_IDENTIFIER_UNIQUE_SHARE = 0.99
# Column names that say "identifier" (customerID, account_id, id, uuid, ...).
IDENTIFIER_NAME = re.compile(r"(^|[_\s-])(id|uuid|guid)$|[a-z]ID$|^id[_\s-]", re.IGNORECASE)
# High cardinality: more levels than this, and the kept levels cover less than the share below.
HIGH_CARDINALITY_LEVELS = 50
MIN_KEPT_COVERAGE = 0.5
# A column missing for nearly everyone says little, and what it says is mostly "was not filled".
MAX_MISSING_SHARE = 0.95
# Values that mean "we do not know" (compared lower-cased, stripped).
UNKNOWN_VALUES = frozenset({"", "unknown", "none", "nan", "null", "n/a", "na", "-", "?"})

LEFT_OUT_IDENTIFIER = "identifier"
LEFT_OUT_HIGH_CARDINALITY = "high_cardinality"
LEFT_OUT_MISSING = "mostly_missing"
LEFT_OUT_CONSTANT = "constant"


def _cell(value) -> object:
    """A JSON value as a string or None (missing); nested values become their JSON text."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, (dict, list)):
        value = json.dumps(value, sort_keys=True)
    text = str(value).strip()
    return None if text.lower() in UNKNOWN_VALUES else text


def _as_dict(value) -> dict:
    if isinstance(value, dict):
        return value
    if isinstance(value, str) and value.strip().startswith("{"):
        try:
            parsed = json.loads(value)
        except ValueError:
            return {}
        return parsed if isinstance(parsed, dict) else {}
    return {}


def attribute_table(customers: pd.DataFrame) -> pd.DataFrame:
    """One column per attribute name, indexed by customer_id: strings, None where missing.

    ``customers["attributes"]`` holds dicts (or their JSON text); a frame without the column
    has no attributes."""
    index = pd.Index(customers["customer_id"].astype("int64"), name="customer_id")
    if "attributes" not in customers or not len(customers):
        return pd.DataFrame(index=index)
    records = [_as_dict(v) for v in customers["attributes"].to_numpy()]
    if not any(records):
        return pd.DataFrame(index=index)
    table = pd.DataFrame.from_records(records, index=index)
    return table.apply(lambda column: column.map(_cell)).astype(object)


def _numbers(values: pd.Series) -> pd.Series:
    return pd.to_numeric(values, errors="coerce").astype("float64")


@dataclass(frozen=True)
class AttributeEncoder:
    """The frozen encoding of the attributes (see the module docstring).

    ``numeric``: name -> median filled in for a missing value; ``flagged``: numeric names with a
    missing-value flag column; ``categorical``: name -> levels kept; ``left_out``: name -> why.
    """

    numeric: dict[str, float] = field(default_factory=dict)
    flagged: tuple[str, ...] = ()
    categorical: dict[str, tuple[str, ...]] = field(default_factory=dict)
    left_out: dict[str, str] = field(default_factory=dict)

    @property
    def columns(self) -> list[str]:
        out = []
        for name in self.numeric:
            out.append(PREFIX + name)
            if name in self.flagged:
                out.append(PREFIX + name + MISSING_SUFFIX)
        for name, levels in self.categorical.items():
            out.extend(f"{PREFIX}{name}={level}" for level in levels)
        return out

    @property
    def used(self) -> list[str]:
        return list(self.numeric) + list(self.categorical)

    def readable(self, table: pd.DataFrame) -> pd.DataFrame:
        """The customers' own values of the used attributes: numbers (NaN when missing) and
        levels as given (None when missing; a rare level keeps its own name)."""
        out = pd.DataFrame(index=table.index)
        for name in self.numeric:
            values = table[name] if name in table else pd.Series(None, index=table.index, dtype=object)
            out[PREFIX + name] = _numbers(values)
        for name in self.categorical:
            out[PREFIX + name] = table[name] if name in table else pd.Series(None, index=table.index,
                                                                              dtype=object)
        return out

    def transform(self, table: pd.DataFrame) -> pd.DataFrame:
        """The model columns (:attr:`columns`) for the customers of ``table``, NaN-free."""
        out = {}
        for name, median in self.numeric.items():
            values = _numbers(table[name]) if name in table else pd.Series(np.nan, index=table.index)
            out[PREFIX + name] = values.fillna(median)
            if name in self.flagged:
                out[PREFIX + name + MISSING_SUFFIX] = values.isna().astype("float64")
        for name, levels in self.categorical.items():
            values = table[name] if name in table else pd.Series(None, index=table.index, dtype=object)
            for level in levels:
                out[f"{PREFIX}{name}={level}"] = (values == level).astype("float64")
        return pd.DataFrame(out, index=table.index, columns=self.columns).astype("float64")


def _kind(name: str, values: pd.Series, n_rows: int) -> tuple[str, object]:
    """("numeric", median) | ("categorical", levels) | ("left_out", reason) for one column."""
    known = values.dropna()
    if len(known) == 0 or len(known) < (1 - MAX_MISSING_SHARE) * n_rows:
        return "left_out", LEFT_OUT_MISSING
    distinct = known.nunique()
    if distinct < 2:
        return "left_out", LEFT_OUT_CONSTANT
    numbers = _numbers(known)
    parsed = numbers.notna()
    # Digits with a leading zero ("0731", a postcode, a phone or account number) are a code.
    coded = known.astype(str).str.match(r"^[+-]?0\d").any()
    if parsed.mean() >= NUMERIC_SHARE and not coded:
        integral = bool((numbers[parsed] == np.round(numbers[parsed])).all())
        unique_share = numbers[parsed].nunique() / parsed.sum()
        if integral and (unique_share >= NUMERIC_IDENTIFIER_UNIQUE_SHARE
                         or (IDENTIFIER_NAME.search(name) and unique_share >= 0.5)):
            return "left_out", LEFT_OUT_IDENTIFIER
        return "numeric", float(numbers[parsed].median())
    if distinct / len(known) >= IDENTIFIER_UNIQUE_SHARE or (
            IDENTIFIER_NAME.search(name) and distinct / len(known) >= 0.5):
        return "left_out", LEFT_OUT_IDENTIFIER
    counts = known.value_counts()
    floor = max(MIN_LEVEL_COUNT, MIN_LEVEL_SHARE * len(known))
    # Sorted by count then by name, so the kept levels do not depend on row order.
    frequent = counts[counts >= floor]
    frequent = frequent.sort_index(kind="stable").sort_values(ascending=False, kind="stable")[:MAX_LEVELS]
    if distinct > HIGH_CARDINALITY_LEVELS and frequent.sum() < MIN_KEPT_COVERAGE * len(known):
        return "left_out", LEFT_OUT_HIGH_CARDINALITY
    if frequent.empty:
        return "left_out", LEFT_OUT_HIGH_CARDINALITY
    return "categorical", tuple(sorted(str(level) for level in frequent.index))


def fit_encoder(table: pd.DataFrame) -> AttributeEncoder:
    """Decide the encoding of every attribute column from the customers of ``table``."""
    numeric, flagged, categorical, left_out = {}, [], {}, {}
    for name in sorted(table.columns, key=str):
        values = table[name]
        kind, detail = _kind(str(name), values, len(table))
        if kind == "numeric":
            numeric[name] = detail
            if _numbers(values).isna().any():
                flagged.append(name)
        elif kind == "categorical":
            categorical[name] = detail
        else:
            left_out[name] = detail
    return AttributeEncoder(numeric=numeric, flagged=tuple(flagged), categorical=categorical,
                            left_out=left_out)


def is_attribute(column: str) -> bool:
    return column.startswith(PREFIX)


def attribute_name(column: str) -> str:
    """The attribute a model column belongs to: "attr:Contract=One year" -> "Contract"."""
    name = column[len(PREFIX):]
    if name.endswith(MISSING_SUFFIX):
        return name[:-len(MISSING_SUFFIX)]
    return name.split("=", 1)[0]
