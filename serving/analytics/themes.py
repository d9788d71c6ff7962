"""Themes of survey comments and what each does to NPS: `nps-risk themes` and GET /v1/themes.

Each comment gets the themes of a versioned taxonomy whose patterns it matches
(``taxonomy``); TF-IDF + NMF (scikit-learn, fixed seed) on the comments no theme matched
proposes the themes the taxonomy misses. Per theme: volume, theme NPS with its interval,
impact = NPS(all answers) - NPS(answers not mentioning the theme) (the vendors' formula,
-200..200) with a bootstrap interval, trend by period, the share of Detractors' and of
Promoters' comments mentioning it, and three example comments. Impact is confounded with
volume and with themes mentioned together: it says where NPS points sit, not what causes
them. Themes under ``min_count`` comments are flagged and not ranked.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from features.dataset import Dataset
from nps_core.nps import NpsResult, nps_from_counts, with_period
from nps_core.scale import ScoreScale
from serving.analytics.nps import finite, report_answers, result_dict
from serving.analytics.taxonomy import Taxonomy, match_themes, normalise

MIN_COUNT = 30
BOOTSTRAP = 200
PROPOSALS = 8  # most NMF topics proposed
PROPOSED_PREFIX = "proposed_"
_MIN_RESIDUAL = 60  # fewer unmatched comments than this: nothing to propose from
_TOPIC_FLOOR = 0.05  # a comment belongs to its strongest topic if the weight reaches this
_EXAMPLES = 3
# words that carry no theme in support remarks: greetings, forms of address, fillers
# (Hinglish too); left out of the proposed topics and the top terms
FILLERS = frozenset(
    [
        "hi",
        "hello",
        "hey",
        "dear",
        "team",
        "sir",
        "madam",
        "mam",
        "maam",
        "ji",
        "bhai",
        "dost",
        "honestly",
        "please",
        "pls",
        "plz",
        "kindly",
        "guess",
        "just",
        "really",
        "also",
        "yes",
        "haan",
        "bhi",
        "hai",
        "tha",
        "ka",
        "ki",
        "ke",
        "ko",
        "se",
    ]
)


def _stop_words() -> list[str]:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return sorted(ENGLISH_STOP_WORDS | FILLERS)


@dataclass(frozen=True)
class ThemeStats:
    key: str
    label: str
    source: str  # "taxonomy" or "proposed"
    top_terms: list[str]
    volume: int
    share_of_comments: float
    nps: NpsResult
    impact: float
    impact_ci_low: float
    impact_ci_high: float
    detractor_share: float  # of Detractors' comments, the share mentioning the theme
    promoter_share: float
    trend: list[dict[str, Any]]
    examples: list[str]
    ranked: bool
    rank: int | None


@dataclass(frozen=True)
class ThemeReport:
    taxonomy: str
    taxonomy_version: int
    freq: str
    answers: int
    comments: int
    overall: NpsResult
    min_count: int
    bootstrap: int
    seed: int
    themes: list[ThemeStats]
    assignments: pd.DataFrame  # response_id, themes (list of keys), one row per comment


def _values(segments: pd.Series) -> np.ndarray:
    """+1 Promoter, -1 Detractor, 0 Passive: NPS is 100 x their mean."""
    return np.select([segments == "promoter", segments == "detractor"], [1, -1], 0).astype(float)


def _nps(weights: np.ndarray, values: np.ndarray) -> np.ndarray:
    """100 x weighted mean of values, per row of weights (NaN where a row weighs nothing)."""
    total = weights.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(100.0 * (weights @ values) / total)


def _impact_interval(
    values: np.ndarray, mentions: np.ndarray, bootstrap: int, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Impact of each theme (column of ``mentions``) and its 95% percentile bootstrap
    interval, resampling answers with replacement."""
    n = len(values)
    without = (~mentions).astype(float)  # answers x themes
    point = _nps(np.ones(n), values) - _nps(without.T, values)
    if n == 0 or bootstrap == 0:
        nan = np.full(mentions.shape[1], math.nan)
        return point, nan, nan
    rng = np.random.default_rng(seed)
    draws = np.empty((bootstrap, mentions.shape[1]))
    for b in range(bootstrap):
        w = np.bincount(rng.integers(0, n, n), minlength=n).astype(float)
        kept = without * w[:, None]
        draws[b] = _nps(w, values) - _nps(kept.T, values)
    with np.errstate(invalid="ignore"):
        low, high = np.nanpercentile(draws, [2.5, 97.5], axis=0)
    return point, low, high


def propose_themes(
    normalised: pd.Series, *, k: int = PROPOSALS, seed: int = 42
) -> tuple[pd.DataFrame, dict[str, list[str]]]:
    """TF-IDF (words and word pairs) + NMF (nndsvda, fixed seed) on comments no taxonomy
    theme matched: one boolean column per proposed topic (each comment in its strongest
    topic, if any) and each topic's top terms."""
    from sklearn.decomposition import NMF
    from sklearn.feature_extraction.text import TfidfVectorizer

    empty = pd.DataFrame(index=normalised.index)
    if len(normalised) < _MIN_RESIDUAL:
        return empty, {}
    vectorizer = TfidfVectorizer(
        ngram_range=(1, 2),
        min_df=max(3, len(normalised) // 500),
        max_df=0.5,
        stop_words=_stop_words(),
        token_pattern=r"(?u)\b[a-z][a-z]+\b",
        sublinear_tf=True,
    )
    try:
        matrix = vectorizer.fit_transform(normalised)
    except ValueError:  # no term left (every comment a stop word or a number)
        return empty, {}
    k = min(k, matrix.shape[1], max(1, matrix.shape[0] // 40))
    model = NMF(n_components=k, init="nndsvda", random_state=seed, max_iter=500)
    weights = model.fit_transform(matrix)
    terms = vectorizer.get_feature_names_out()
    strongest = weights.argmax(axis=1)
    has_topic = weights.max(axis=1) >= _TOPIC_FLOOR
    columns, top_terms = {}, {}
    order = np.argsort(-weights.sum(axis=0), kind="stable")  # biggest topic first
    for rank, topic in enumerate(order, start=1):
        key = f"{PROPOSED_PREFIX}{rank}"
        columns[key] = (strongest == topic) & has_topic
        top_terms[key] = [str(terms[j]) for j in np.argsort(-model.components_[topic])[:6]]
    return pd.DataFrame(columns, index=normalised.index), top_terms


def _top_terms(normalised: pd.Series, mentions: pd.DataFrame, n: int = 6) -> dict[str, list[str]]:
    """Each theme's most characteristic words: how much more often its comments use a word
    than all comments do (with at least 3 uses), most frequent among ties."""
    from sklearn.feature_extraction.text import CountVectorizer

    out: dict[str, list[str]] = {key: [] for key in mentions.columns}
    if normalised.str.len().sum() == 0:
        return out
    vectorizer = CountVectorizer(
        stop_words=_stop_words(), token_pattern=r"(?u)\b[a-z][a-z]+\b", binary=True
    )
    try:
        counts = vectorizer.fit_transform(normalised)
    except ValueError:
        return out
    terms = vectorizer.get_feature_names_out()
    overall = np.asarray(counts.mean(axis=0)).ravel()
    for key in mentions.columns:
        rows = mentions[key].to_numpy()
        if not rows.any():
            continue
        used = np.asarray(counts[rows].sum(axis=0)).ravel()
        lift = (used / rows.sum()) / np.maximum(overall, 1e-12)
        score = np.where(used >= 3, lift * np.log1p(used), 0.0)
        best = [j for j in np.argsort(-score, kind="stable")[:n] if score[j] > 0]
        out[key] = [str(terms[j]) for j in best]
    return out


def _examples(comments: pd.Series, normalised: pd.Series, mentions: pd.DataFrame) -> list[str]:
    """Three distinct comments of the theme: those with fewest other themes, of a readable
    length (near 80 characters), then by response order; deterministic."""
    frame = pd.DataFrame(
        {
            "text": comments,
            "others": mentions.sum(axis=1),
            "length": (normalised.str.len() - 80).abs(),
            "order": np.arange(len(comments)),
        }
    )
    frame = frame[normalised.str.len() >= 12].sort_values(["others", "length", "order"])
    return frame["text"].drop_duplicates().head(_EXAMPLES).astype(str).tolist()


def _trend(
    periods: pd.Series, segments: pd.Series, has_comment: pd.Series, mentioned: pd.Series
) -> list[dict[str, Any]]:
    out = []
    for period in sorted(periods.unique()):
        here = periods == period
        theme = here & mentioned
        counts = segments[theme].value_counts()
        figure = nps_from_counts(
            int(counts.get("promoter", 0)),
            int(counts.get("passive", 0)),
            int(counts.get("detractor", 0)),
        )
        comments = int((here & has_comment).sum())
        out.append(
            {
                "period": str(period),
                "volume": int(theme.sum()),
                "comments": comments,
                "share_of_comments": finite(theme.sum() / comments) if comments else None,
                **result_dict(figure),
            }
        )
    return out


def find_themes(
    answers: pd.DataFrame,
    scale: ScoreScale,
    taxonomy: Taxonomy,
    *,
    freq: str = "M",
    min_count: int = MIN_COUNT,
    bootstrap: int = BOOTSTRAP,
    seed: int = 42,
    proposals: int = PROPOSALS,
) -> ThemeReport:
    """Themes of the comments among ``answers`` (counted answers with ``response_id``,
    ``responded_at``, ``score`` and ``comment``; see ``nps.report_answers``) and their NPS,
    with a trend by ``freq`` (W, M, Q)."""
    answers = with_period(answers.reset_index(drop=True), freq)
    segments = scale.classify(answers["score"]).astype("object")
    values = _values(segments)
    text = answers["comment"].where(answers["comment"].notna(), None)
    normalised = normalise(text)
    has_comment = normalised.str.len() > 0
    mentions = match_themes(normalised, taxonomy) & has_comment.to_numpy()[:, None]
    residual = has_comment & ~mentions.any(axis=1)
    proposed, proposed_terms = propose_themes(normalised[residual], k=proposals, seed=seed)
    proposed = proposed.reindex(answers.index, fill_value=False).astype(bool)
    everything = pd.concat([mentions, proposed], axis=1)
    terms = {**_top_terms(normalised[has_comment], everything[has_comment]), **proposed_terms}

    impact, low, high = _impact_interval(values, everything.to_numpy(), bootstrap, seed)
    comments = int(has_comment.sum())
    detractor_comments = has_comment & (segments == "detractor")
    promoter_comments = has_comment & (segments == "promoter")
    labels = {t.key: t.label for t in taxonomy.themes}
    stats = []
    for j, key in enumerate(everything.columns):
        mentioned = everything[key]
        counts = segments[mentioned].value_counts()
        volume = int(mentioned.sum())
        stats.append(
            ThemeStats(
                key=key,
                label=labels.get(key) or "proposed: " + ", ".join(terms[key][:3]),
                source="taxonomy" if key in labels else "proposed",
                top_terms=terms.get(key, []),
                volume=volume,
                share_of_comments=volume / comments if comments else math.nan,
                nps=nps_from_counts(
                    int(counts.get("promoter", 0)),
                    int(counts.get("passive", 0)),
                    int(counts.get("detractor", 0)),
                ),
                impact=float(impact[j]),
                impact_ci_low=float(low[j]),
                impact_ci_high=float(high[j]),
                detractor_share=_share(mentioned, detractor_comments),
                promoter_share=_share(mentioned, promoter_comments),
                trend=_trend(answers["period"], segments, has_comment, mentioned),
                examples=_examples(text[mentioned], normalised[mentioned], everything[mentioned]),
                ranked=volume >= min_count,
                rank=None,
            )
        )
    ranked = sorted(
        (s for s in stats if s.ranked and math.isfinite(s.impact)),
        key=lambda s: (s.impact, s.key),
    )
    order = {s.key: i for i, s in enumerate(ranked, start=1)}
    final = [
        ThemeStats(**{**s.__dict__, "rank": order.get(s.key), "ranked": s.key in order})
        for s in stats
    ]
    final.sort(key=lambda s: (s.rank is None, s.rank or 0, -s.volume, s.key))
    listed = everything[has_comment]
    assignments = pd.DataFrame(
        {
            "response_id": answers.loc[has_comment, "response_id"].astype(str).to_numpy(),
            "themes": [
                [k for k, hit in zip(listed.columns, row, strict=True) if hit]
                for row in listed.to_numpy()
            ],
        }
    )
    return ThemeReport(
        taxonomy=taxonomy.name,
        taxonomy_version=taxonomy.version,
        freq=freq,
        answers=len(answers),
        comments=comments,
        overall=nps_from_counts(
            int((segments == "promoter").sum()),
            int((segments == "passive").sum()),
            int((segments == "detractor").sum()),
        ),
        min_count=min_count,
        bootstrap=bootstrap,
        seed=seed,
        themes=final,
        assignments=assignments,
    )


def themes_report(
    data: Dataset,
    taxonomy: Taxonomy,
    *,
    freq: str = "M",
    date_from: date | None = None,
    date_to: date | None = None,
    min_count: int = MIN_COUNT,
    bootstrap: int = BOOTSTRAP,
    seed: int = 42,
) -> ThemeReport:
    """Themes of a dataset's counted answers (internal and test accounts never count),
    answered on days ``date_from``..``date_to``: what the command and the route run."""
    return find_themes(
        report_answers(data, date_from, date_to),
        data.scale,
        taxonomy,
        freq=freq,
        min_count=min_count,
        bootstrap=bootstrap,
        seed=seed,
    )


def _share(mentioned: pd.Series, among: pd.Series) -> float:
    total = int(among.sum())
    return float((mentioned & among).sum() / total) if total else math.nan


def theme_dict(theme: ThemeStats, min_count: int) -> dict[str, Any]:
    return {
        "key": theme.key,
        "label": theme.label,
        "source": theme.source,
        "top_terms": theme.top_terms,
        "volume": theme.volume,
        "share_of_comments": finite(theme.share_of_comments),
        "nps": result_dict(theme.nps),
        "impact": finite(theme.impact),
        "impact_ci_low": finite(theme.impact_ci_low),
        "impact_ci_high": finite(theme.impact_ci_high),
        "detractor_share": finite(theme.detractor_share),
        "promoter_share": finite(theme.promoter_share),
        "trend": theme.trend,
        "examples": theme.examples,
        "ranked": theme.ranked,
        "rank": theme.rank,
        "flag": None
        if theme.ranked
        else f"fewer than {min_count} comments: not ranked, its impact is noise",
    }


def themes_dict(report: ThemeReport) -> dict[str, Any]:
    """The report as JSON-ready data: what GET /v1/themes answers and ``themes --json``
    writes; ``assignments`` lets anyone recompute an impact from the surveys table."""
    return {
        "taxonomy": {"name": report.taxonomy, "version": report.taxonomy_version},
        "period": {"W": "week", "M": "month", "Q": "quarter"}[report.freq],
        "answers": report.answers,
        "comments": report.comments,
        "overall": result_dict(report.overall),
        "min_count": report.min_count,
        "bootstrap": report.bootstrap,
        "seed": report.seed,
        "impact_formula": "NPS(all answers) - NPS(answers not mentioning the theme)",
        "themes": [theme_dict(t, report.min_count) for t in report.themes],
        "assignments": [
            {"response_id": r, "themes": t}
            for r, t in zip(
                report.assignments["response_id"], report.assignments["themes"], strict=True
            )
        ],
    }


def describe_themes(report: ThemeReport) -> str:
    lines = [
        f"{report.comments:,} comments among {report.answers:,} answers (NPS {report.overall.nps:+.1f}); "
        f"taxonomy {report.taxonomy} v{report.taxonomy_version}; impact = NPS(all) - NPS(without the theme), "
        f"95% bootstrap interval ({report.bootstrap} resamples)"
    ]
    for t in report.themes:
        where = f"#{t.rank:<3}" if t.rank else "  - "
        nps = "   n/a" if math.isnan(t.nps.nps) else f"{t.nps.nps:+6.1f}"
        line = (
            f"  {where} {t.label[:42]:<42} {t.volume:>6,} comments  NPS {nps}  "
            f"impact {t.impact:+6.2f} [{t.impact_ci_low:+.2f}, {t.impact_ci_high:+.2f}]  "
            f"Detractors {t.detractor_share:.0%} / Promoters {t.promoter_share:.0%}"
            if t.volume
            else f"  {where} {t.label[:42]:<42}      0 comments"
        )
        if not t.ranked and t.volume:
            line += f"  (under {report.min_count}: not ranked)"
        lines.append(line)
        if t.examples and t.ranked:
            lines.append(f"         e.g. {t.examples[0][:100]!r}")
    return "\n".join(lines)


def plot_impact(report: ThemeReport, path: Path) -> Path:
    """Ranked themes' impact with its interval, most negative at the top."""
    from matplotlib.figure import Figure

    ranked = [t for t in report.themes if t.ranked]
    fig = Figure(figsize=(8, 0.45 * max(len(ranked), 2) + 1.2), dpi=110)
    ax = fig.add_subplot()
    y = np.arange(len(ranked))[::-1]
    impact = np.array([t.impact for t in ranked])
    ax.barh(y, impact, color=["#c44e52" if v < 0 else "#55a868" for v in impact])
    ax.errorbar(
        impact,
        y,
        xerr=[
            impact - [t.impact_ci_low for t in ranked],
            [t.impact_ci_high for t in ranked] - impact,
        ],
        fmt="none",
        ecolor="black",
        capsize=3,
    )
    ax.set_yticks(y, [f"{t.label[:40]} (n={t.volume})" for t in ranked], fontsize=8)
    ax.axvline(0, color="grey", linewidth=0.8)
    ax.set_xlabel("impact on NPS, points (95% bootstrap interval)")
    ax.set_title("Comment themes: NPS(all) - NPS(without the theme)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    return path
