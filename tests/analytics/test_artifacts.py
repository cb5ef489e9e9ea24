"""What a run's tasks hand each other: pickled as they are, with less held while pickling."""
from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics.services.artifacts import shared_values

TEXT = st.one_of(st.none(), st.just(np.nan), st.sampled_from(["high", "medium", "low", "At Risk", "低"]))


@settings(max_examples=80, deadline=None)
@given(rows=st.lists(st.tuples(TEXT, TEXT, st.floats(allow_nan=True)), min_size=1, max_size=60),
       string_dtype=st.sampled_from(["object", "string", "str"]))
def test_shared_values_change_no_value_and_keep_one_object_per_value(rows, string_dtype):
    # Every value its own object, as a score column built row by row is.
    fresh = [[None if v is None else v if not isinstance(v, str) else "".join(list(v)) for v in row[:2]]
             for row in rows]
    frame = pd.DataFrame({
        "segment": pd.Series([r[0] for r in fresh], dtype=object),
        "risk": pd.Series([r[1] for r in fresh], dtype=string_dtype),
        "probability": [r[2] for r in rows],
        "reasons": pd.Series([[1, 2] if i % 2 else None for i in range(len(rows))], dtype=object),
    })
    before = frame.copy(deep=True)
    shared = shared_values(frame)
    pd.testing.assert_frame_equal(shared, frame)
    pd.testing.assert_frame_equal(frame, before)          # the caller's frame is left alone
    pd.testing.assert_frame_equal(pickle.loads(pickle.dumps(shared)), frame)
    for column in ("segment", "risk"):
        texts = [v for v in shared[column].to_numpy(dtype=object) if isinstance(v, str)]
        assert len({id(v) for v in texts}) == len(set(texts))
    if frame["segment"].map(lambda v: isinstance(v, str)).sum() > len(set(frame["segment"].dropna())):
        # pickle writes a repeated object as a reference to its first copy
        assert len(pickle.dumps(shared["segment"])) < len(pickle.dumps(frame["segment"]))
