"""Time the complaint-reason classifier: the one-off fit, one text at a time, and bulk batches.

    .venv/bin/python bench/complaint_reasons.py [--repeat 20]

No database. Texts are the held-out sets in tests/data (English and Chinese, ~640 texts),
repeated ``--repeat`` times for the bulk figure, as an import of feedback would send them.
Prints JSON: fit seconds (first use in a process, jieba's dictionary load included), texts per
second for single texts (the path of one new feedback record) and for a batch (bulk imports),
and the model card with held-out macro-F1 against the keyword lexicon.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    from analytics.engine.complaint_reasons import (
        classifier,
        complaint_reason_card,
        complaint_reasons_many,
        read_labelled,
    )

    heldout = {lang: read_labelled(ROOT / "tests" / "data" / f"complaints_{lang}.csv") for lang in ("en", "zh")}
    texts = [t for frame in heldout.values() for t in frame["text"]]
    started = time.perf_counter()
    classifier()
    fit_seconds = time.perf_counter() - started
    started = time.perf_counter()
    for text in texts:
        complaint_reasons_many([text])
    single = len(texts) / (time.perf_counter() - started)
    bulk_texts = texts * args.repeat
    started = time.perf_counter()
    complaint_reasons_many(bulk_texts)
    bulk = len(bulk_texts) / (time.perf_counter() - started)
    print(json.dumps({
        "fit_seconds": round(fit_seconds, 2),
        "single_texts_per_second": round(single),
        "bulk_texts": len(bulk_texts),
        "bulk_texts_per_second": round(bulk),
        "card": complaint_reason_card(heldout).as_dict(),
    }, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
