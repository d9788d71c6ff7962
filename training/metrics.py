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
    """Precision and recall when a team calls the k riskiest. Scores tied at the cut are
    taken at their average hit rate (the expectation under a random tie-break), so the
    figure never depends on row order."""
    if len(y) == 0:
        return math.nan, math.nan
    k = min(k, len(y))
    cut = np.sort(p)[::-1][k - 1]
    above = p > cut
    tied = p == cut
    hits = float(y[above].sum()) + (k - int(above.sum())) * float(y[tied].mean())
    positives = float(y.sum())
    return hits / k, hits / positives if positives else math.nan


def evaluate(y: np.ndarray, p: np.ndarray, *, k: int) -> dict[str, float]:
    """The headline metrics of one model on one set of rows."""
    y = np.asarray(y, dtype=np.int64)
    p = np.clip(np.asarray(p, dtype=np.float64), 1e-6, 1 - 1e-6)
    auc, lo, hi = auc_with_ci(y, p)
    both = len(np.unique(y)) == 2
    precision, recall = at_k(y, p, k)
    deciles = lift_by_decile(y, p)
    return {
        "n": float(len(y)),
        "detractor_rate": float(y.mean()) if len(y) else math.nan,
        "roc_auc": auc,
        "roc_auc_low": lo,
        "roc_auc_high": hi,
        "pr_auc": float(average_precision_score(y, p)) if both else math.nan,
        "brier": float(brier_score_loss(y, p)) if len(y) else math.nan,
        "log_loss": float(log_loss(y, p, labels=[0, 1])) if len(y) else math.nan,
        "ece": expected_calibration_error(y, p),
        f"precision_at_{k}": precision,
        f"recall_at_{k}": recall,
        "lift_top_decile": float(deciles["lift"].iloc[0]) if len(deciles) else math.nan,
    }


def evaluate_by(
    frame: pd.DataFrame, y: np.ndarray, p: np.ndarray, by: str, *, k: int, min_rows: int = 30
) -> pd.DataFrame:
    """The same metrics per group (channel, segment); groups under ``min_rows`` are flagged."""
    rows: list[dict[str, Any]] = []
    keys = frame[by].astype("str").fillna("(missing)").to_numpy()
    for key in pd.unique(keys):
        mask = keys == key
        group_k = max(1, round(k * mask.mean()))  # the group's share of the daily capacity
        metrics = evaluate(y[mask], p[mask], k=group_k)
        metrics["precision_at_k"] = metrics.pop(f"precision_at_{group_k}")
        metrics["recall_at_k"] = metrics.pop(f"recall_at_{group_k}")
        rows.append({by: key, "k": group_k, **metrics, "low_sample": int(mask.sum()) < min_rows})
    return pd.DataFrame(rows).sort_values("n", ascending=False, ignore_index=True)
