"""Time one engine part of a score run (the products part: the recommender and the bundles; or
the customers part: the customer models) on the database DATABASE_URL names, in this process,
as a worker fits it.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bskh_bench .venv/bin/python bench/engine_part.py \
        [--part products|customers]

Needs data already loaded (``manage.py seed_demo --customers 100000``). Creates a started full
run and calls :func:`analytics.services.runs.score_run_fit_part` for the part, as the worker
does; prints one JSON object with the part's own timings (``read_<part>`` is the read of
everything the part needs but the baskets or the order summaries, ``read_baskets`` and
``read_order_summary`` those where the database supplies them), its counts, the peak resident
memory after the read, after each stage and at the end, and the wall time. Run it in a fresh
process each time: the peak is the process's (under ``memray run`` it also shows what holds the
memory at the peak). The run row is deleted afterwards.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm_site.settings")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("products", "customers"), default="products")
    args = parser.parse_args()

    import django

    django.setup()
    from django.utils import timezone

    from analytics import adapter
    from analytics.engine.pipeline import peak_rss_mb
    from analytics.models import ScoreRun
    from analytics.services.artifacts import artifact_load, pending_meta_name
    from analytics.services.runs import score_run_fit_part

    # The part's read ends with read_frames (after the baskets, where the database groups them):
    # the peak just after it is the read's.
    read_frames, after_read = adapter.read_frames, {}

    def read_then_measure(*args, **kwargs):
        frames = read_frames(*args, **kwargs)
        after_read["peak_rss_mb"] = peak_rss_mb()
        return frames

    adapter.read_frames = read_then_measure
    ScoreRun.objects.filter(status__in=ScoreRun.ACTIVE).update(status=ScoreRun.Status.FAILED)
    run = ScoreRun.objects.create(kind=ScoreRun.Kind.FULL, as_of=timezone.now(),
                                  status=ScoreRun.Status.RUNNING, started_at=timezone.now(),
                                  lease_expires_at=timezone.now() + ScoreRun.lease_duration)
    try:
        started = time.perf_counter()
        score_run_fit_part(run_id=run.pk, part=args.part)
        seconds = time.perf_counter() - started
        meta = artifact_load(run.pk, pending_meta_name(args.part))
    finally:
        run.delete()
    print(json.dumps({"part_seconds": round(seconds, 2), "timings": meta["timings"],
                      "counts": meta["counts"], "peak_rss_after_read_mb": after_read["peak_rss_mb"],
                      "stage_peak_rss_mb": meta["peak_rss_mb"],
                      "peak_rss_mb": peak_rss_mb()}, indent=2))


if __name__ == "__main__":
    main()
