"""Evaluation on a hold-out: discrimination with intervals, calibration, and what a team
with a daily outreach capacity would actually get (precision/recall at k, lift by decile).
"""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss


def _delong(y: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """ROC-AUC of each score column and DeLong's covariance matrix of those AUCs.

    Placement values: per positive, the share of negatives it outranks; per negative, the
    share of positives above it (midranks count ties as half). One implementation serves
    the single-model interval and the paired test of two models on the same rows.
    """
    m, n = int(y.sum()), int((~y).sum())
    pos, neg = scores[y], scores[~y]
    all_rank = pd.DataFrame(np.concatenate([pos, neg])).rank(method="average").to_numpy()
    pos_rank = pd.DataFrame(pos).rank(method="average").to_numpy()
    neg_rank = pd.DataFrame(neg).rank(method="average").to_numpy()
    v10 = (all_rank[:m] - pos_rank) / n
    v01 = 1 - (all_rank[m:] - neg_rank) / m
    k = scores.shape[1]
    cov = np.zeros((k, k))
    for placements, count in ((v10, m), (v01, n)):
        if count > 1:
            cov += np.atleast_2d(np.cov(placements, rowvar=False)) / count
    return v10.mean(axis=0), cov


def _columns(y: np.ndarray, *scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    labels = np.asarray(y).astype(bool)
    matrix = np.column_stack([np.asarray(p, np.float64) for p in scores])
    if matrix.shape[0] != labels.shape[0]:
        raise ValueError(f"{labels.shape[0]} labels but {matrix.shape[0]} scores")
    return labels, matrix


def auc_with_ci(
    y: np.ndarray, p: np.ndarray, confidence: float = 0.95
) -> tuple[float, float, float]:
    """ROC-AUC with DeLong's variance (fast, no resampling); NaN when one class is absent."""
    labels, scores = _columns(y, p)
    if labels.all() or not labels.any():
        return math.nan, math.nan, math.nan
    auc, cov = _delong(labels, scores)
    half = NormalDist().inv_cdf(0.5 + confidence / 2) * math.sqrt(max(float(cov[0, 0]), 0.0))
    a = float(auc[0])
    return a, max(0.0, a - half), min(1.0, a + half)


def paired_auc_difference(
    y: np.ndarray, p_a: np.ndarray, p_b: np.ndarray, confidence: float = 0.95
) -> dict[str, float]:
    """ROC-AUC of A minus that of B on the same rows, with DeLong's paired test.

    Both models score the same rows, so their AUCs are correlated; DeLong's covariance of
    the placement values accounts for it (a paired test, much tighter than two separate
    intervals). Returns both AUCs, the difference, its interval, z and the two-sided
    p-value; NaN everywhere when one class is absent.
    """
    labels, scores = _columns(y, p_a, p_b)
    out = dict.fromkeys(
        ("auc_a", "auc_b", "difference", "low", "high", "se", "z", "p_value"), math.nan
    )
    out.update(n=float(len(labels)), positives=float(labels.sum()))
    if labels.all() or not labels.any():
        return out
    auc, cov = _delong(labels, scores)
    contrast = np.array([1.0, -1.0])
    se = math.sqrt(max(float(contrast @ cov @ contrast), 0.0))
    diff = float(auc[0] - auc[1])
    half = NormalDist().inv_cdf(0.5 + confidence / 2) * se
    if se > 0:
        z = diff / se
        p_value = 2 * NormalDist().cdf(-abs(z))
    else:  # identical rankings (or degenerate placements): no variance to test against
        z = 0.0 if diff == 0 else math.copysign(math.inf, diff)
        p_value = 1.0 if diff == 0 else 0.0
    out.update(
        auc_a=float(auc[0]),
        auc_b=float(auc[1]),
        difference=diff,
        low=max(-1.0, diff - half),
        high=min(1.0, diff + half),
        se=se,
        z=z,
        p_value=p_value,
    )
    return out


def expected_calibration_error(y: np.ndarray, p: np.ndarray, bins: int = 10) -> float:
    """Weighted mean |observed rate - mean prediction| over equal-count bins of prediction."""
    if len(y) == 0:
        return math.nan
    order = np.argsort(p, kind="stable")
    chunks = np.array_split(order, min(bins, len(order)))
    return float(sum(len(c) * abs(y[c].mean() - p[c].mean()) for c in chunks if len(c)) / len(y))


def calibration_table(y: np.ndarray, p: np.ndarray, bins: int = 10) -> pd.DataFrame:
    order = np.argsort(p, kind="stable")
    rows = [
        {"mean_predicted": float(p[c].mean()), "observed_rate": float(y[c].mean()), "n": len(c)}
        for c in np.array_split(order, min(bins, max(len(order), 1)))
        if len(c)
    ]
    return pd.DataFrame(rows)


def lift_by_decile(y: np.ndarray, p: np.ndarray) -> pd.DataFrame:
    """Decile 1 = the riskiest tenth; lift = its Detractor rate over the overall rate."""
    order = np.argsort(-p, kind="stable")
    base = y.mean() if len(y) else math.nan
    rows = []
    for d, chunk in enumerate(np.array_split(order, 10), start=1):
        if len(chunk):
            rate = float(y[chunk].mean())
            rows.append(
                {
                    "decile": d,
                    "n": len(chunk),
                    "detractor_rate": rate,
                    "lift": rate / base if base else math.nan,
                }
            )
    return pd.DataFrame(rows)


def at_k(y: np.ndarray, p: np.ndarray, k: int) -> tuple[float, float]:
    """Precision and recall of ONE list: calling the k riskiest of these rows (all of them
    when fewer). Scores tied at the cut are taken at their average hit rate (the expectation
    under a random tie-break), so the figure never depends on row order. The metrics call
    it once per list day (``at_capacity_per_day``), never on a whole test period."""
    if len(y) == 0:
        return math.nan, math.nan
    k = min(k, len(y))
    cut = np.sort(p)[::-1][k - 1]
    above = p > cut
    tied = p == cut
    hits = float(y[above].sum()) + (k - int(above.sum())) * float(y[tied].mean())
    positives = float(y.sum())
    return hits / k, hits / positives if positives else math.nan


def list_days(times: pd.Series) -> np.ndarray:
    """The list day of each row: the UTC calendar day of its as-of time (the day a list built
    then would have held it)."""
    stamps = pd.to_datetime(times, utc=True)
    return stamps.dt.floor("D").to_numpy()


def mean_interval(values: np.ndarray, confidence: float = 0.95) -> tuple[float, float, float]:
    """Mean of independent units (list days) with Student's t interval; NaN bounds for one."""
    from scipy.stats import t as student  # type: ignore[import-untyped]  # no stubs installed

    v = np.asarray(values, dtype=np.float64)
    v = v[~np.isnan(v)]
    if len(v) == 0:
        return math.nan, math.nan, math.nan
    mean = float(v.mean())
    if len(v) < 2:
        return mean, math.nan, math.nan
    half = float(student.ppf(0.5 + confidence / 2, len(v) - 1)) * float(v.std(ddof=1))
    half /= math.sqrt(len(v))
    return mean, mean - half, mean + half


def wilson_interval(
    successes: float, n: float, confidence: float = 0.95
) -> tuple[float, float, float]:
    """A proportion with Wilson's score interval (sound near 0 and 1 and at small n)."""
    if n <= 0:
        return math.nan, math.nan, math.nan
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    rate = successes / n
    centre = (rate + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(rate * (1 - rate) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return rate, max(0.0, centre - half), min(1.0, centre + half)


def at_capacity_per_day(
    y: np.ndarray, p: np.ndarray, days: np.ndarray | None, k: int, confidence: float = 0.95
) -> dict[str, float]:
    """Precision and recall at k as a team lives them: on each list day it calls the k
    riskiest rows of that day (all of them on a day with fewer), and the figures are the
    means over the days, each with a t interval over days. Recall is averaged over the days
    that hold a Detractor. Without list days (no time), every figure is NaN."""
    out = dict.fromkeys(
        (
            "precision_at_k",
            "precision_at_k_low",
            "precision_at_k_high",
            "recall_at_k",
            "recall_at_k_low",
            "recall_at_k_high",
        ),
        math.nan,
    )
    out.update(k=float(k), list_days=0.0, short_list_days=0.0, recall_days=0.0, calls=0.0)
    if days is None or len(y) == 0:
        return out
    y = np.asarray(y, dtype=np.float64)
    p = np.asarray(p, dtype=np.float64)
    codes, _ = pd.factorize(pd.Series(days), sort=True)
    if (codes < 0).any():
        raise ValueError("a row has no list day (missing as-of time)")
    order = np.argsort(codes, kind="stable")
    bounds = np.flatnonzero(np.diff(codes[order])) + 1
    precision, recall, short, calls = [], [], 0, 0
    for rows in np.split(order, bounds):
        day_precision, day_recall = at_k(y[rows], p[rows], k)
        precision.append(day_precision)
        recall.append(day_recall)
        short += len(rows) < k
        calls += min(k, len(rows))
    for name, values in (("precision_at_k", precision), ("recall_at_k", recall)):
        mean, low, high = mean_interval(np.asarray(values), confidence)
        out.update(
            {
                name: mean,
                f"{name}_low": max(0.0, low) if not math.isnan(low) else low,
                f"{name}_high": min(1.0, high) if not math.isnan(high) else high,
            }
        )
    out.update(
        list_days=float(len(precision)),
        short_list_days=float(short),
        recall_days=float(np.sum(~np.isnan(recall))),
        calls=float(calls),
    )
    return out


def paired_brier_difference(
    y: np.ndarray, p_a: np.ndarray, p_b: np.ndarray, confidence: float = 0.95
) -> dict[str, float]:
    """Brier score of A minus that of B on the same rows, with a paired interval (the mean
    of the per-row differences of squared errors and its normal-approximation interval)."""
    labels = np.asarray(y, dtype=np.float64)
    a, b = np.asarray(p_a, dtype=np.float64), np.asarray(p_b, dtype=np.float64)
    if not len(labels) == len(a) == len(b):
        raise ValueError(f"{len(labels)} labels but {len(a)} and {len(b)} scores")
    out = dict.fromkeys(("brier_a", "brier_b", "difference", "low", "high", "se"), math.nan)
    out["n"] = float(len(labels))
    if len(labels) == 0:
        return out
    diff = (a - labels) ** 2 - (b - labels) ** 2
    se = float(diff.std(ddof=1)) / math.sqrt(len(diff)) if len(diff) > 1 else math.nan
    half = NormalDist().inv_cdf(0.5 + confidence / 2) * se
    mean = float(diff.mean())
    out.update(
        brier_a=float(np.mean((a - labels) ** 2)),
        brier_b=float(np.mean((b - labels) ** 2)),
        difference=mean,
        low=mean - half,
        high=mean + half,
        se=se,
    )
    return out


def evaluate(
    y: np.ndarray, p: np.ndarray, *, k: int, days: np.ndarray | None = None
) -> dict[str, float]:
    """The headline metrics of one model on one set of rows; ``days`` are the rows' list
    days (``list_days``), without which precision and recall at k are undefined (NaN)."""
    y = np.asarray(y, dtype=np.int64)
    p = np.clip(np.asarray(p, dtype=np.float64), 1e-6, 1 - 1e-6)
    auc, lo, hi = auc_with_ci(y, p)
    both = len(np.unique(y)) == 2
    rate, rate_low, rate_high = wilson_interval(float(y.sum()), float(len(y)))
    deciles = lift_by_decile(y, p)
    return {
        "n": float(len(y)),
        "detractor_rate": rate,
        "detractor_rate_low": rate_low,
        "detractor_rate_high": rate_high,
        "roc_auc": auc,
        "roc_auc_low": lo,
        "roc_auc_high": hi,
        "pr_auc": float(average_precision_score(y, p)) if both else math.nan,
        "brier": float(brier_score_loss(y, p)) if len(y) else math.nan,
        "log_loss": float(log_loss(y, p, labels=[0, 1])) if len(y) else math.nan,
        "ece": expected_calibration_error(y, p),
        **at_capacity_per_day(y, p, days, k),
        "lift_top_decile": float(deciles["lift"].iloc[0]) if len(deciles) else math.nan,
    }


def evaluate_by(
    frame: pd.DataFrame,
    y: np.ndarray,
    p: np.ndarray,
    by: str,
    *,
    k: int,
    days: np.ndarray | None = None,
    min_rows: int = 30,
) -> pd.DataFrame:
    """The same metrics per group (channel, segment); groups under ``min_rows`` are flagged.
    A group's k is its share of the daily capacity, still per list day."""
    rows: list[dict[str, Any]] = []
    keys = frame[by].astype("str").fillna("(missing)").to_numpy()
    for key in pd.unique(keys):
        mask = keys == key
        group_k = max(1, round(k * mask.mean()))
        metrics = evaluate(y[mask], p[mask], k=group_k, days=None if days is None else days[mask])
        rows.append({by: key, **metrics, "low_sample": int(mask.sum()) < min_rows})
    return pd.DataFrame(rows).sort_values("n", ascending=False, ignore_index=True)
