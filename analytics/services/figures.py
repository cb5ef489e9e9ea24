"""Figures a run draws once and stores, so no page computes them on a visit: the word clouds.

Each is a :class:`~analytics.models.ModelArtifact` of the run holding the PNG bytes as they are
served. The run's write deletes the previous runs' artifacts in the same transaction that makes
its scores visible, so a page shows the clouds of the latest successful run; a run that fails
leaves the previous clouds in place. A free worker draws a run's clouds while another writes it
(:func:`score_run_draw`), and the write takes them (:func:`figures_take`).
"""
from __future__ import annotations

import logging
import time

import pandas as pd
from django.db import connection, transaction

from analytics.engine.feedback import keywords_by_language, render_wordcloud
from analytics.models import ModelArtifact, ScoreRun
from core.db import is_postgres
from customers.models import Feedback

from .artifacts import PENDING_FIGURES_META, artifact_find, artifact_load, artifact_store

logger = logging.getLogger(__name__)

WORDCLOUD_LANGUAGES = ("en", "zh")
# Feedback texts read per word cloud: the most recent ones tell what customers say now.
WORDCLOUD_TEXTS = 5000
# The size the feedback page shows them at (templates/analytics/feedback.html).
WORDCLOUD_WIDTH, WORDCLOUD_HEIGHT = 700, 350


def wordcloud_artifact_name(language: str) -> str:
    return f"wordcloud_{language}"


def wordcloud_render(language: str) -> bytes:
    """The PNG of the recent feedback's top terms in ``language``; empty when it has none."""
    rows = list(Feedback.objects.exclude(text="").filter(language=language)
                .order_by("-created_at", "-id").values_list("text", "language")[:WORDCLOUD_TEXTS])
    if not rows:
        return b""
    terms = keywords_by_language(pd.DataFrame(rows, columns=["text", "language"])).get(language)
    if terms is None or not len(terms):
        return b""
    return render_wordcloud(terms.to_dict(), width=WORDCLOUD_WIDTH, height=WORDCLOUD_HEIGHT).png


def wordclouds_store(*, run_id: int, timings: dict) -> int:
    """Draw the word cloud of each language with feedback and store it on the run; returns how
    many were stored. A failure costs the figures, never the run: it is logged, and the page
    says that the next run draws them."""
    started = time.perf_counter()
    stored = 0
    for language in WORDCLOUD_LANGUAGES:
        try:
            png = wordcloud_render(language)
        except Exception:  # noqa: BLE001 - logged; the page shows no cloud rather than no run
            logger.exception("word cloud %s of run %s", language, run_id)
            continue
        if png:
            ModelArtifact.objects.update_or_create(
                run_id=run_id, name=wordcloud_artifact_name(language), defaults={"payload": png})
            stored += 1
    timings["wordclouds"] = round(time.perf_counter() - started, 3)
    return stored


# PostgreSQL advisory lock class of a run's drawing (the run id is the other key).
DRAWING_LOCK_CLASS = 0x0C10D5
# How long a finish waits for a worker that is drawing its run's clouds.
DRAWING_WAIT = "120s"


def _drawn(run_id: int) -> bool:
    return ModelArtifact.objects.filter(run_id=run_id, name=PENDING_FIGURES_META).exists()


def score_run_draw(*, run_id: int) -> bool:
    """Draw a started run's word clouds. They read only the analysed feedback, so a free worker
    draws them while another writes the run (``runs.score_run_finish``): drawn in the finish they
    held up the write by their seconds, and drawn beside the two engine parts they held up the
    ranking (2.1 s of a 25 s run at 100,000 customers, the other worker idle). Safe to repeat;
    False when the run ended, or when drawing failed: that costs the clouds, never the run (it
    is logged; the finish tries once more, and the page says the next run draws them)."""
    if ScoreRun.objects.filter(pk=run_id, status__in=ScoreRun.ENDED).exists():
        return False
    if _drawn(run_id):
        return True
    timings: dict[str, float] = {}
    try:
        # A savepoint inside the finish's transaction: a failed statement leaves it usable.
        with transaction.atomic():
            _drawing_lock(run_id)
            if _drawn(run_id):
                return True   # drawn by the one this waited for
            wordclouds_store(run_id=run_id, timings=timings)
            artifact_store(run_id, PENDING_FIGURES_META, {"timings": timings})
        return True
    except Exception:  # noqa: BLE001 - logged; the run goes on without its clouds
        logger.exception("word clouds of score run %s", run_id)
        return False


def _drawing_lock(run_id: int) -> None:
    """Held by whoever draws a run's clouds until its transaction ends (PostgreSQL), so a finish
    that finds them not yet stored waits for a worker drawing them instead of drawing them a
    second time beside it (at 100,000 customers on a slow machine the draw outlasted the score
    table's build and was done twice, 2 s more of write). A draw that waits longer than
    ``DRAWING_WAIT`` fails, which costs the clouds only."""
    if not is_postgres():
        return
    with connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL lock_timeout = '{DRAWING_WAIT}'")
        cursor.execute("SELECT pg_advisory_xact_lock(%s::integer, %s::integer)", [DRAWING_LOCK_CLASS, run_id])
        cursor.execute("SET LOCAL lock_timeout TO DEFAULT")


def figures_take(run_id: int, timings: dict) -> None:
    """For a run's finish: the run's word clouds are visible with its scores, drawn here unless a
    free worker has stored them meanwhile (:func:`score_run_draw`, sent as the finish started),
    and their timings go into ``timings``. Called once the new score table is built, as late as
    the write can wait without holding a lock readers need."""
    figures = artifact_find(run_id, PENDING_FIGURES_META)
    if figures is None and score_run_draw(run_id=run_id):
        figures = artifact_load(run_id, PENDING_FIGURES_META)
    if figures is not None:
        timings.update(figures["timings"])
