"""Rows seen earlier in the same file, remembered compactly so duplicates are found file-wide.

A file is imported a chunk at a time, and a copy of a row may sit a million lines after the
original. Each accepted row's identity key (order id + SKU, customer id, ...) is kept as an 8-byte
hash with the 4-byte line it came from, in two sorted numpy arrays:

* Memory: 12 bytes a row, so 12 MB for a million distinct rows (24 MB for a moment while a chunk's
  keys are merged in). A Python ``dict`` of the key tuples would take about 200-300 bytes a row
  (tuple, strings, datetime, int objects and the table), 200-300 MB at a million rows: more than
  the rest of the import together. A staging table with a unique key would cost nothing in memory,
  but only on PostgreSQL, and SQLite must find the same duplicates.
* Time: a chunk is looked up with one ``searchsorted`` and merged with one ``insert``, both linear
  in the array; at a million rows that is about a second for the whole file.
* Exactness: two different keys share a 64-bit hash with probability about n^2 / 2^65, 3 in 100
  million for a file of a million rows. Keys within one chunk are compared exactly first (by the
  importer), so only a pair of rows in different chunks could ever be mistaken, and a rejected row
  says which line it was taken for, so a person can see it.

The hash is pandas' ``hash_array`` (SipHash-2-4 with a fixed key) over the key's ``repr``: stable
within a run, which is all that is needed.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd


def key_hashes(keys: Sequence[object]) -> np.ndarray:
    """64-bit hashes of ``keys`` (any objects with a stable ``repr``)."""
    if not keys:
        return np.empty(0, dtype=np.uint64)
    return pd.util.hash_array(np.array([repr(k) for k in keys], dtype=object))


class SeenKeys:
    """Sorted hashes of the identity keys accepted so far, each with the line it was first on."""

    def __init__(self) -> None:
        self.hashes = np.empty(0, dtype=np.uint64)
        self.lines = np.empty(0, dtype=np.uint32)

    def __len__(self) -> int:
        return len(self.hashes)

    def first_lines(self, hashes: np.ndarray) -> np.ndarray:
        """For each hash, the line it was first seen on, or 0 when it is new."""
        if not len(self.hashes) or not len(hashes):
            return np.zeros(len(hashes), dtype=np.uint32)
        position = np.searchsorted(self.hashes, hashes)
        inside = np.minimum(position, len(self.hashes) - 1)
        found = self.hashes[inside] == hashes
        return np.where(found, self.lines[inside], 0).astype(np.uint32)

    def add(self, hashes: np.ndarray, lines: np.ndarray) -> None:
        """Remember new hashes (none of them already present, none repeated among them)."""
        if not len(hashes):
            return
        order = np.argsort(hashes, kind="stable")
        hashes, lines = hashes[order], np.asarray(lines, dtype=np.uint32)[order]
        position = np.searchsorted(self.hashes, hashes)
        self.hashes = np.insert(self.hashes, position, hashes)
        self.lines = np.insert(self.lines, position, lines)
