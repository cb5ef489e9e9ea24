"""Feedback text analytics: language, polarity, complaint reasons, keywords, word clouds, and
satisfaction groups.

Every text is analysed once, where it is stored (the adapter writes ``language``,
``sentiment_score``, ``complaint_reason`` and ``complaint_reasons`` back on the feedback row);
reports then read those columns instead of re-running the analysers. Complaint reasons come from
the classifier in :mod:`analytics.engine.complaint_reasons`; a complaint may have several, and
``complaint_reason`` is the most probable of them.

Polarity is one scale, -1 (negative) .. 1 (positive), for both languages:

* English: TextBlob's pattern-lexicon polarity (``TextBlob(text).sentiment.polarity``,
  https://textblob.readthedocs.io/en/dev/quickstart.html#sentiment-analysis). It needs no NLTK
  corpora, which cannot be downloaded on our machines; tokenising and noun phrases would.
* Chinese: SnowNLP's ``sentiments``, a naive-Bayes probability that the text is positive
  (trained on shopping reviews, https://github.com/isnowfy/snownlp), mapped to ``2p - 1``.
  SnowNLP loads its models on import (5-9 s), so it is imported inside the function, the first
  time a Chinese text appears.

The two scales are not calibrated against each other: SnowNLP pushes most texts towards 0 or 1,
so Chinese polarities are more extreme than English ones for the same opinion. Labels use the
same thresholds for both, which is good enough for positive/neutral/negative but means mean
polarities should be compared within a language.
"""
from __future__ import annotations

import io
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.metrics import pairwise_distances, silhouette_score

from analytics.engine.complaint_reasons import complaint_reasons_many
from analytics.engine.frames import ModelCard

# --- language -------------------------------------------------------------------------------
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
# One Chinese character carries about as much as 2.5 Latin letters (an English word averages
# ~4.7 letters, a Chinese word ~1.7 characters), so "我喜欢iPhone" counts as Chinese.
LETTERS_PER_CJK_CHAR = 2.5

# --- polarity and labels --------------------------------------------------------------------
# TextBlob gives exactly 0 for texts without opinion words and small values (|p| < 0.1) for
# hedged ones; SnowNLP's probabilities between 0.45 and 0.55 map inside the same band.
POSITIVE_THRESHOLD = 0.1
NEGATIVE_THRESHOLD = -0.1
# Ratings are on a 1-5 scale; 1 and 2 are complaints whatever the text says.
LOW_RATING = 2.0
# SnowNLP's time grows with the square of the text's length (20,000 characters took 26 s,
# 100,000 took 501 s): only the first MAX_ANALYSED_CHARS characters are analysed, in pieces of
# at most PIECE_CHARS cut at sentence ends, and the pieces' polarities averaged by length.
# Callers pass the settings FEEDBACK_ANALYSIS_MAX_CHARS / FEEDBACK_ANALYSIS_PIECE_CHARS.
MAX_ANALYSED_CHARS = 5_000
PIECE_CHARS = 500
_SENTENCE_END = re.compile(r"(?<=[。！？!?.;；\n])")
HIGH_RATING = 4.0  # 4 and 5 stars count as positive when scoring labels against ratings
RATING_MIDPOINT = 3.0
RATING_HALF_RANGE = 2.0

# --- keywords -------------------------------------------------------------------------------
# Written for feedback, not general prose: besides function words it drops shop words that
# appear in nearly every review ("product", "order") and would dominate every cloud.
EN_STOPWORDS = frozenset("""
a about above after again against all also am an and any are aren't as at be because been before
being below between both but by can can't cannot could couldn't did didn't do does doesn't doing
don't down during each even ever every few for from further get got had hadn't has hasn't have
haven't having he her here hers herself him himself his how i i'm i've if in into is isn't it it's
its itself just let me more most much my myself no nor not now of off on once only or other our
ours ourselves out over own really same she should shouldn't so some still such than that that's
the their theirs them themselves then there there's these they they're this those through to too
under until up us very was wasn't we we're were weren't what when where which while who whom why
will with won't would wouldn't you you're your yours yourself yourselves one two also would
product products order ordered item items buy bought purchase thing things
""".split())
ZH_STOPWORDS = frozenset("""
的 了 是 我 你 他 她 它 我们 你们 他们 这 那 这个 那个 就 都 也 还 很 非常 太 和 与 及 在 有 没有 不 没
一个 一下 一些 什么 怎么 因为 所以 但是 而且 还是 可以 已经 就是 真的 觉得 感觉 东西 产品 买 购买
""".split())
MIN_EN_TERM_LENGTH = 3  # "ok", "go", "tv" say little in a cloud
MIN_ZH_TERM_LENGTH = 2  # single characters are mostly particles
DEFAULT_TOP_TERMS = 50

# --- word cloud -----------------------------------------------------------------------------
CJK_FONT_PATH = Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc")  # Debian fonts-wqy-zenhei

# --- satisfaction groups --------------------------------------------------------------------
N_SATISFACTION_GROUPS = 3
SATISFACTION_LABELS = ("dissatisfied", "neutral", "satisfied")  # by ascending centre score
KMEANS_N_INIT = 10  # sklearn's classic default; stable labels on small data for little cost
# Used only when there are fewer distinct customers than groups, so k-means cannot run.
SATISFIED_SCORE = 0.2
DISSATISFIED_SCORE = -0.2
SATISFACTION_HOLDOUT_FRACTION = 0.2


# ============================================================================================
# One text
# ============================================================================================


@dataclass(frozen=True)
class TextAnalysis:
    language: str
    polarity: float
    sentiment_label: str
    complaint_reason: str
    complaint_reasons: tuple[str, ...] = ()


def detect_language(text: str) -> str:
    """``"zh"`` when CJK characters dominate, ``"en"`` for other letters, ``""`` for no letters."""
    if not text or not text.strip():
        return ""
    cjk = len(_CJK.findall(text))
    letters = sum(1 for ch in text if ch.isalpha()) - cjk
    if cjk == 0 and letters == 0:
        return ""
    return "zh" if cjk * LETTERS_PER_CJK_CHAR >= letters else "en"


def text_pieces(text: str, piece_chars: int = PIECE_CHARS) -> list[str]:
    """``text`` in consecutive pieces of at most ``piece_chars`` characters, cut after sentence
    ends where possible (a sentence longer than a piece is cut where it reaches the limit)."""
    piece_chars = max(1, piece_chars)
    pieces: list[str] = []
    current = ""
    for sentence in _SENTENCE_END.split(text):
        while len(sentence) > piece_chars:
            if current:
                pieces.append(current)
                current = ""
            pieces.append(sentence[:piece_chars])
            sentence = sentence[piece_chars:]
        if len(current) + len(sentence) > piece_chars:
            pieces.append(current)
            current = ""
        current += sentence
    if current:
        pieces.append(current)
    return [piece for piece in pieces if piece.strip()]


def _chinese_polarity(text: str, piece_chars: int) -> float:
    from snownlp import SnowNLP  # slow import (loads models): only when Chinese appears

    pieces = text_pieces(text, piece_chars) or [text]
    weights = np.array([len(piece) for piece in pieces], dtype=float)
    values = np.array([2.0 * SnowNLP(piece).sentiments - 1.0 for piece in pieces])
    return float(np.average(values, weights=weights))


def polarity(text: str, language: str | None = None, *, max_chars: int = MAX_ANALYSED_CHARS,
             piece_chars: int = PIECE_CHARS) -> float:
    """Sentiment on -1..1 of the first ``max_chars`` characters; NaN for text with no language
    (empty or no letters)."""
    text = text[:max_chars]
    language = detect_language(text) if language is None else language
    if language == "zh":
        return _chinese_polarity(text, piece_chars)
    if language == "en":
        from textblob import TextBlob

        return float(TextBlob(text).sentiment.polarity)
    return float("nan")


def sentiment_label(score: float) -> str:
    if score is None or math.isnan(score):
        return ""
    if score >= POSITIVE_THRESHOLD:
        return "positive"
    if score <= NEGATIVE_THRESHOLD:
        return "negative"
    return "neutral"


def complaint_reason(text: str) -> str:
    """The most probable complaint reason, ``"other"`` when none applies. Callers decide whether
    the text is a complaint at all."""
    return complaint_reasons_many([text or ""])[0][0]


def _is_complaint(label: str, rating: float | None) -> bool:
    low_rating = rating is not None and not math.isnan(rating) and rating <= LOW_RATING
    return label == "negative" or low_rating


def analyse_text(text: str, rating: float | None = None, *, max_chars: int = MAX_ANALYSED_CHARS,
                 piece_chars: int = PIECE_CHARS) -> TextAnalysis:
    """Language, polarity, label, and (only for negative or low-rated feedback) the complaint
    reasons, most probable first; of the first ``max_chars`` characters."""
    text = (text or "")[:max_chars]
    language = detect_language(text)
    score = polarity(text, language, max_chars=max_chars, piece_chars=piece_chars)
    label = sentiment_label(score)
    reasons = complaint_reasons_many([text])[0] if _is_complaint(label, rating) else ()
    return TextAnalysis(language=language, polarity=score, sentiment_label=label,
                        complaint_reason=reasons[0] if reasons else "", complaint_reasons=reasons)


def analyse_feedback(feedback: pd.DataFrame, *, max_chars: int = MAX_ANALYSED_CHARS,
                     piece_chars: int = PIECE_CHARS) -> pd.DataFrame:
    """Per feedback row: ``language``, ``sentiment_score``, ``sentiment_label``,
    ``complaint_reason`` (the first reason) and ``complaint_reasons`` (a list, most probable
    first; empty, like the reason, for feedback that is no complaint).

    Indexed by ``feedback_id``. Identical texts are analysed once (SnowNLP costs milliseconds per
    text, and imports of campaigns repeat canned answers), and the complaint texts go through
    the reason classifier in one batch; whether a row is a complaint still depends on its rating.
    """
    columns = ["language", "sentiment_score", "sentiment_label", "complaint_reason", "complaint_reasons"]
    if feedback.empty:
        out = pd.DataFrame({c: pd.Series(dtype="float64" if c == "sentiment_score" else "object")
                            for c in columns})
        out.index.name = "feedback_id"
        return out
    # Only the first max_chars characters are analysed (see MAX_ANALYSED_CHARS).
    texts = feedback["text"].fillna("").astype(str).str.slice(0, max_chars)
    per_text = {text: (detect_language(text),) for text in texts.unique()}
    per_text = {text: (lang, polarity(text, lang, max_chars=max_chars, piece_chars=piece_chars))
                for text, (lang,) in per_text.items()}
    if "rating" in feedback:
        ratings = feedback["rating"].astype("float64")
    else:
        ratings = pd.Series(np.nan, index=feedback.index)
    labels = [sentiment_label(per_text[text][1]) for text in texts]
    complaints = [_is_complaint(label, rating) for label, rating in zip(labels, ratings)]
    complaint_texts = sorted({text for text, complaint in zip(texts, complaints) if complaint})
    reasons_of = dict(zip(complaint_texts, complaint_reasons_many(complaint_texts)))
    rows = []
    for text, label, complaint in zip(texts, labels, complaints):
        language, score = per_text[text]
        reasons = list(reasons_of[text]) if complaint else []
        rows.append((language, score, label, reasons[0] if reasons else "", reasons))
    out = pd.DataFrame(rows, columns=columns, index=pd.Index(feedback["feedback_id"], name="feedback_id"))
    out["sentiment_score"] = out["sentiment_score"].astype("float64")
    return out


def _rating_class(rating: pd.Series) -> pd.Series:
    return pd.Series(
        np.where(rating >= HIGH_RATING, "positive", np.where(rating <= LOW_RATING, "negative", "neutral")),
        index=rating.index,
    )


def sentiment_rating_agreement(feedback: pd.DataFrame, analysed: pd.DataFrame) -> ModelCard:
    """How often the text's label matches the customer's own star rating.

    Nothing is fitted here (both analysers are pre-trained), so every rated, non-empty text is
    held out. Ratings become classes (>= 4 positive, <= 2 negative, 3 neutral); the baseline
    always answers the most common rating class. Agreement is bounded well below 1: a 4-star
    review often complains about one thing.
    """
    labels = analysed["sentiment_label"].reindex(feedback["feedback_id"]).to_numpy()
    rating = feedback["rating"].astype("float64").reset_index(drop=True)
    usable = rating.notna().to_numpy() & (labels != "")
    if not usable.any():
        return ModelCard(name="feedback.sentiment", notes="No rated feedback with text.")
    truth = _rating_class(rating[usable])
    predicted = labels[usable]
    majority = truth.value_counts().idxmax()
    return ModelCard(
        name="feedback.sentiment",
        metrics={
            "accuracy": float((truth.to_numpy() == predicted).mean()),
            "rated_texts": float(usable.sum()),
        },
        baseline={"accuracy": float((truth == majority).mean())},
        params={"positive_threshold": POSITIVE_THRESHOLD, "negative_threshold": NEGATIVE_THRESHOLD},
        notes="Label vs rating class; baseline = most common rating class.",
    )


# ============================================================================================
# Keywords and word clouds
# ============================================================================================


def _english_terms(text: str) -> list[str]:
    tokens = re.findall(r"[a-z][a-z']*", text.lower())
    tokens = [t[:-2] if t.endswith("'s") else t.strip("'") for t in tokens]
    return [t for t in tokens if len(t) >= MIN_EN_TERM_LENGTH and t not in EN_STOPWORDS]


def _chinese_terms(text: str) -> list[str]:
    import jieba  # builds its dictionary cache on first use (~2 s); only needed for Chinese

    jieba.setLogLevel(60)  # silence "Building prefix dict" chatter on stderr
    return [
        token for token in jieba.lcut(text)
        if len(token) >= MIN_ZH_TERM_LENGTH and _CJK.search(token) and token not in ZH_STOPWORDS
    ]


def top_terms(texts: Iterable[str], *, language: str, top_n: int = DEFAULT_TOP_TERMS) -> pd.Series:
    """Most frequent content terms of one language, as term -> count (ties alphabetical)."""
    tokenise = _chinese_terms if language == "zh" else _english_terms
    counts = Counter(term for text in texts if text for term in tokenise(str(text)))
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:top_n]
    return pd.Series(dict(ranked), dtype="int64", name="count")


def keywords_by_language(feedback: pd.DataFrame, *, top_n: int = DEFAULT_TOP_TERMS) -> dict[str, pd.Series]:
    """Top terms per language; uses the stored ``language`` column when it is filled in."""
    texts = feedback["text"].fillna("").astype(str)
    if "language" in feedback:
        languages = feedback["language"].fillna("").astype(str)
        languages = languages.where(languages != "", texts.map(detect_language))
    else:
        languages = texts.map(detect_language)
    return {
        lang: top_terms(texts[languages == lang], language=lang, top_n=top_n)
        for lang in ("en", "zh")
        if (languages == lang).any()
    }


@dataclass(frozen=True)
class WordCloudImage:
    """A rendered word cloud. ``cjk_font`` is False when the CJK font was missing; Chinese terms
    were then left out (they would draw as empty boxes) and ``dropped_terms`` counts them."""

    png: bytes
    font_path: str
    cjk_font: bool
    dropped_terms: int
    note: str = ""


def render_wordcloud(
    frequencies: Mapping[str, float],
    *,
    width: int = 800,
    height: int = 400,
    seed: int = 0,
    font_path: str | Path | None = None,
) -> WordCloudImage:
    """Draw term frequencies as a PNG with the ``wordcloud`` package.

    wordcloud's bundled font (DroidSansMono) has no Chinese glyphs, so the Debian CJK font is
    used when present. ``seed`` fixes the layout (``WordCloud(random_state=...)``).
    """
    from wordcloud import WordCloud

    chosen = Path(font_path) if font_path is not None else CJK_FONT_PATH
    has_cjk_font = chosen.exists()
    terms = {str(k): float(v) for k, v in frequencies.items() if v and float(v) > 0}
    dropped = 0
    note = ""
    if not has_cjk_font:
        kept = {k: v for k, v in terms.items() if not _CJK.search(k)}
        dropped = len(terms) - len(kept)
        terms = kept
        note = (f"CJK font {chosen} not found: drawn with wordcloud's Latin-only font"
                + (f", {dropped} Chinese terms left out" if dropped else "")
                + ". Install fonts-wqy-zenhei.")
    used_font = str(chosen) if has_cjk_font else "wordcloud default (DroidSansMono)"
    if not terms:
        return WordCloudImage(png=b"", font_path=used_font, cjk_font=has_cjk_font, dropped_terms=dropped,
                              note=(note + " No terms to draw.").strip())
    cloud = WordCloud(
        width=width, height=height, random_state=seed, background_color="white",
        font_path=str(chosen) if has_cjk_font else None,
    ).generate_from_frequencies(terms)
    buffer = io.BytesIO()
    cloud.to_image().save(buffer, format="PNG")
    return WordCloudImage(png=buffer.getvalue(), font_path=used_font, cjk_font=has_cjk_font,
                          dropped_terms=dropped, note=note)


# ============================================================================================
# Satisfaction groups
# ============================================================================================


@dataclass(frozen=True)
class SatisfactionResult:
    """Per customer: ``feedback_count``, ``mean_rating``, ``sentiment_score``,
    ``satisfaction_score`` and ``satisfaction_group``; indexed by customer_id."""

    customers: pd.DataFrame
    card: ModelCard


def _customer_features(feedback: pd.DataFrame, *, as_of: pd.Timestamp) -> pd.DataFrame:
    seen = feedback.loc[feedback["created_at"] <= as_of].copy()
    scores = seen["sentiment_score"].astype("float64") if "sentiment_score" in seen else pd.Series(
        np.nan, index=seen.index)
    missing = scores.isna() & seen["text"].fillna("").astype(str).str.strip().ne("")
    if missing.any():  # analyse only what was never analysed
        scores.loc[missing] = [polarity(str(t)) for t in seen.loc[missing, "text"]]
    seen["sentiment_score"] = scores
    per_customer = seen.groupby("customer_id").agg(
        feedback_count=("customer_id", "size"),
        mean_rating=("rating", "mean"),
        sentiment_score=("sentiment_score", "mean"),
    )
    # Ratings and polarity on one -1..1 scale; a customer with only one of the two signals gets
    # the other filled from it, rather than being dropped or pulled to the middle.
    rating_scaled = (per_customer["mean_rating"] - RATING_MIDPOINT) / RATING_HALF_RANGE
    sentiment = per_customer["sentiment_score"]
    per_customer["rating_scaled"] = rating_scaled.fillna(sentiment)
    per_customer["sentiment_filled"] = sentiment.fillna(rating_scaled)
    per_customer = per_customer.dropna(subset=["rating_scaled", "sentiment_filled"])
    per_customer["satisfaction_score"] = (
        per_customer["rating_scaled"] + per_customer["sentiment_filled"]
    ) / 2
    return per_customer


def _label_by_centre(model: KMeans) -> dict[int, str]:
    order = np.argsort(model.cluster_centers_.sum(axis=1))
    return {int(cluster): SATISFACTION_LABELS[rank] for rank, cluster in enumerate(order)}


def _threshold_labels(score: pd.Series) -> pd.Series:
    return pd.Series(
        np.where(score >= SATISFIED_SCORE, "satisfied", np.where(score <= DISSATISFIED_SCORE, "dissatisfied",
                                                                     "neutral")),
        index=score.index,
    )


# Silhouette costs n^2 distances: held-out customers beyond this many are sampled (with the
# run's seed). 5,000 points give the score to about +-0.005, as in segments.SILHOUETTE_SAMPLE.
SILHOUETTE_SAMPLE = 5000


def _silhouettes(features: np.ndarray, *labellings: np.ndarray, seed: int = 0,
                 sample_size: int = SILHOUETTE_SAMPLE) -> list[float]:
    """The silhouette of each labelling of ``features`` (NaN where it has one group, or as many
    groups as points), on one sample of them: their distances are computed once for all."""
    sample = (np.random.default_rng(seed).choice(len(features), size=sample_size, replace=False)
              if len(features) > sample_size else slice(None))
    distances = None
    scores = []
    for labels in labellings:
        distinct = len(set(labels))
        labels = np.asarray(labels)[sample]
        if distinct < 2 or distinct >= len(features) or len(set(labels)) < 2:
            scores.append(float("nan"))
            continue
        if distances is None:
            distances = pairwise_distances(features[sample])
        scores.append(float(silhouette_score(distances, labels, metric="precomputed")))
    return scores


def satisfaction_groups(feedback: pd.DataFrame, *, as_of: pd.Timestamp, seed: int = 0) -> SatisfactionResult:
    """K-means (k=3) on each customer's mean rating and mean polarity, up to ``as_of``.

    Clusters are named by their centre: the lowest rating+sentiment centre is "dissatisfied",
    the highest "satisfied". Features are put on one -1..1 scale by construction rather than
    standardised, so a group means the same thing from run to run whatever the mix of customers.

    The card holds customers out (a fifth), assigns them to the nearest training centre, and
    reports the silhouette (Rousseeuw 1987; ``sklearn.metrics.silhouette_score``) against a
    baseline that cuts the combined score at the training terciles.
    """
    features = _customer_features(feedback, as_of=as_of)
    columns = ["feedback_count", "mean_rating", "sentiment_score", "satisfaction_score", "satisfaction_group"]
    params = {"k": N_SATISFACTION_GROUPS, "seed": seed, "customers": int(len(features))}
    if features.empty:
        empty = pd.DataFrame({c: pd.Series(dtype="object") for c in columns})
        empty.index.name = "customer_id"
        return SatisfactionResult(empty, ModelCard(name="feedback.satisfaction_groups", params=params,
                                                   notes="No rated or analysed feedback before as_of."))
    matrix = features[["rating_scaled", "sentiment_filled"]].to_numpy()
    if len(np.unique(matrix, axis=0)) < N_SATISFACTION_GROUPS:
        groups = _threshold_labels(features["satisfaction_score"])
        card = ModelCard(name="feedback.satisfaction_groups", params=params,
                         notes="Fewer distinct customers than groups: fixed score thresholds, no k-means.")
    else:
        model = KMeans(n_clusters=N_SATISFACTION_GROUPS, random_state=seed, n_init=KMEANS_N_INIT).fit(matrix)
        names = _label_by_centre(model)
        groups = pd.Series([names[c] for c in model.labels_], index=features.index)
        card = _satisfaction_card(features, seed=seed, params=params)
    out = features[["feedback_count", "mean_rating", "sentiment_score", "satisfaction_score"]].copy()
    out["satisfaction_group"] = groups
    out.index.name = "customer_id"
    return SatisfactionResult(out, card)


def _satisfaction_card(features: pd.DataFrame, *, seed: int, params: dict) -> ModelCard:
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(features))
    n_test = int(round(len(features) * SATISFACTION_HOLDOUT_FRACTION))
    train, test = features.iloc[order[n_test:]], features.iloc[order[:n_test]]
    train_matrix = train[["rating_scaled", "sentiment_filled"]].to_numpy()
    test_matrix = test[["rating_scaled", "sentiment_filled"]].to_numpy()
    if n_test < N_SATISFACTION_GROUPS + 1 or len(np.unique(train_matrix, axis=0)) < N_SATISFACTION_GROUPS:
        return ModelCard(name="feedback.satisfaction_groups", params=params,
                         notes="Too few customers to hold some out; no held-out metrics.")
    model = KMeans(n_clusters=N_SATISFACTION_GROUPS, random_state=seed, n_init=KMEANS_N_INIT)
    model.fit(train_matrix)
    cuts = np.quantile(train["satisfaction_score"], [1 / 3, 2 / 3])
    baseline_labels = np.digitize(test["satisfaction_score"].to_numpy(), cuts)
    silhouette, baseline = _silhouettes(test_matrix, model.predict(test_matrix), baseline_labels, seed=seed)
    return ModelCard(
        name="feedback.satisfaction_groups",
        metrics={"silhouette": silhouette, "holdout_customers": float(n_test)},
        baseline={"silhouette": baseline},
        params=params,
        notes="Held-out customers assigned to the nearest training centre; baseline = terciles of "
              "the combined rating+sentiment score.",
    )
