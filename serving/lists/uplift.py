"""The statistics of ``impact``, pure: two-arm comparisons with their intervals, the
answer-propensity-weighted Detractor effect, the Qini curve and the plain verdict.

Rates carry Wilson intervals and differences Newcombe's hybrid score interval (both from
statsmodels: exact enough at small counts and never outside [0, 1], unlike Wald's).
Effects are always treatment minus control, so a negative Detractor effect means calls
helped.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from nps_core.proportions import Comparison, compare

Z95 = 1.959963984540054
MIN_ANSWERS = 30  # fewer answers than this in an arm: too early to say anything
PROPENSITY_FLOOR = 0.05  # trimming: no answer stands for more than 1 / 0.05 = 20 customers
MIN_PROPENSITY_ROWS = 20  # a stratum this small gets its raw answer rate as propensity


def _finite(value: float | int) -> float | int | None:
    """JSON has no NaN: a figure that cannot be computed is null."""
    return None if isinstance(value, float) and not math.isfinite(value) else value


def compare_frame(frame: pd.DataFrame, outcome: str) -> Comparison:
    """``compare`` on a frame with ``grp`` (treatment/control) and a 0/1 ``outcome``."""
    treat = frame.loc[frame["grp"] == "treatment", outcome]
    control = frame.loc[frame["grp"] == "control", outcome]
    return compare(int(treat.sum()), len(treat), int(control.sum()), len(control))


# --- answer-propensity weighting ----------------------------------------------------------


@dataclass(frozen=True)
class WeightedEffect:
    """Detractor rates per arm weighted by 1 / P(answer | arm, band, covariates)."""

    rate_treatment: float
    rate_control: float
    effect: float
    ci_low: float
    ci_high: float
    bootstrap: int
    trimmed: int  # answers whose propensity was raised to PROPENSITY_FLOOR

    def as_dict(self) -> dict[str, Any]:
        return {k: _finite(v) for k, v in self.__dict__.items()}


def answer_propensity(
    frame: pd.DataFrame, covariates: Sequence[str], strata: Sequence[str] = ("grp", "band")
) -> np.ndarray:
    """P(answered) for every customer: one logistic regression per stratum (arm and band)
    on covariates known at flag time, standardised. A stratum too small, or where everyone
    (or no one) answered, gets its raw answer rate."""
    from sklearn.linear_model import LogisticRegression

    out = np.empty(len(frame))
    positions = np.arange(len(frame))
    for _key, part in frame.groupby(list(strata), sort=False, observed=True):
        where = positions[frame.index.get_indexer(part.index)]
        answered = part["answered"].to_numpy(dtype=int)
        if len(part) < MIN_PROPENSITY_ROWS or answered.min() == answered.max() or not covariates:
            out[where] = answered.mean()
            continue
        x = part[list(covariates)].to_numpy(dtype=float)
        x = (x - x.mean(axis=0)) / np.where(x.std(axis=0) > 0, x.std(axis=0), 1.0)
        model = LogisticRegression(C=1.0, max_iter=200).fit(x, answered)
        out[where] = model.predict_proba(x)[:, 1]
    return out


def _weighted_rates(frame: pd.DataFrame, covariates: Sequence[str]) -> tuple[float, float, int]:
    p = answer_propensity(frame, covariates)
    trimmed = int(((p < PROPENSITY_FLOOR) & frame["answered"].to_numpy(dtype=bool)).sum())
    w = frame["answered"].to_numpy(dtype=float) / np.maximum(p, PROPENSITY_FLOOR)
    y = frame["detractor"].fillna(0).to_numpy(dtype=float)
    rates = []
    for arm in ("treatment", "control"):
        mine = (frame["grp"] == arm).to_numpy()
        total = w[mine].sum()
        rates.append(float((w[mine] * y[mine]).sum() / total) if total > 0 else math.nan)
    return rates[0], rates[1], trimmed


def weighted_detractor_effect(
    frame: pd.DataFrame,
    covariates: Sequence[str],
    *,
    bootstrap: int = 200,
    seed: int = 0,
) -> WeightedEffect:
    """Inverse-probability-of-answering (Hajek) Detractor effect, with a bootstrap interval.

    Each customer (``grp``, ``band``, ``answered`` 0/1, ``detractor`` 0/1 or missing, the
    covariates) gets P(answer) from ``answer_propensity``; an answer counts 1 / P (P
    trimmed at PROPENSITY_FLOOR), and each arm's rate is the weighted Detractor share of its
    answers. It corrects the naive rate when outreach changes *who* answers, as far as the
    covariates explain answering (missing at random given arm, band and covariates).
    The interval is the 2.5-97.5 percentile of ``bootstrap`` resamples of customers
    within each arm and band, the propensities refitted on each.
    """
    rate_t, rate_c, trimmed = _weighted_rates(frame, covariates)
    rng = np.random.default_rng(seed)
    groups = [part.index.to_numpy() for _, part in frame.groupby(["grp", "band"], sort=True)]
    draws = []
    for _ in range(bootstrap):
        index = np.concatenate([rng.choice(g, size=len(g), replace=True) for g in groups])
        sample = frame.loc[index].reset_index(drop=True)
        t, c, _ = _weighted_rates(sample, covariates)
        draws.append(t - c)
    finite = np.array([d for d in draws if math.isfinite(d)])
    low, high = (
        (float(np.quantile(finite, 0.025)), float(np.quantile(finite, 0.975)))
        if len(finite) >= 20
        else (math.nan, math.nan)
    )
    return WeightedEffect(rate_t, rate_c, rate_t - rate_c, low, high, bootstrap, trimmed)


# --- ordering by risk: uplift at the capacity, the Qini curve --------------------------------


def qini_curve(frame: pd.DataFrame, outcome: str = "detractor") -> pd.DataFrame:
    """Detractors prevented when calling the riskiest share of customers first.

    ``frame`` has ``grp``, ``probability`` (risk at the first flag) and a 0/1 ``outcome``.
    At each prefix of the ranking, prevented = control events x (treated / control
    customers so far) - treatment events: the Qini curve for an outcome we want fewer of.
    ``random`` is the straight line to the same end point (calling in random order).
    """
    order = frame.sort_values(["probability"], ascending=False, kind="stable")
    treat = (order["grp"] == "treatment").to_numpy()
    y = order[outcome].to_numpy(dtype=float)
    n_t, n_c = np.cumsum(treat), np.cumsum(~treat)
    y_t, y_c = np.cumsum(y * treat), np.cumsum(y * ~treat)
    ratio = np.divide(n_t, n_c, out=np.zeros(len(order)), where=n_c > 0)
    prevented = y_c * ratio - y_t
    share = np.arange(1, len(order) + 1) / max(len(order), 1)
    end = prevented[-1] if len(order) else 0.0
    return pd.DataFrame({"share": share, "prevented": prevented, "random": share * end})


def qini_coefficient(curve: pd.DataFrame) -> float:
    """Area between the Qini curve and the random line, per customer (0 = no better than
    random order)."""
    if curve.empty:
        return math.nan
    return float((curve["prevented"] - curve["random"]).mean())


def plot_qini(curves: dict[str, pd.DataFrame], path: Path) -> Path:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.5, 4), dpi=110)
    ax = fig.add_subplot()
    for name, curve in curves.items():
        if curve.empty:
            continue
        line = ax.plot(curve["share"] * 100, curve["prevented"], label=name)
        ax.plot(
            curve["share"] * 100,
            curve["random"],
            linestyle="--",
            color=line[0].get_color(),
            alpha=0.6,
        )
    ax.axhline(0, color="grey", linewidth=0.8)
    ax.set_xlabel("% of flagged customers who answered, riskiest first")
    ax.set_ylabel("Detractors prevented")
    ax.set_title("Qini curve (dashed: random order)")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)
    else:
        ax.text(
            0.5, 0.5, "no answers from flagged customers yet", ha="center", transform=ax.transAxes
        )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    return path


# --- the verdict ---------------------------------------------------------------------------

_PHRASES = {
    "help": "calls help",
    "backfire": "calls backfire on",
    "none": "no measurable effect on",
    "early": "too early to tell for",
}


def verdict_kind(detractor: Comparison) -> str:
    """help (the whole interval below zero), backfire (above), none, or early (too few
    answers in an arm)."""
    if min(detractor.n_treatment, detractor.n_control) < MIN_ANSWERS:
        return "early"
    if detractor.ci_high < 0:
        return "help"
    if detractor.ci_low > 0:
        return "backfire"
    return "none"


def band_verdict(band: str, detractor: Comparison) -> str:
    """One plain sentence. Says "help" only when the whole interval is below zero."""
    kind = verdict_kind(detractor)
    who = "all flagged customers" if band == "all" else f"{band}-risk customers"
    if kind == "early":
        return (
            f"too early to tell for {who}: {detractor.n_treatment} answers from called and "
            f"{detractor.n_control} from control customers (wait for {MIN_ANSWERS} in each)"
        )
    points = (
        f"Detractor rate {detractor.effect * 100:+.1f} points "
        f"(95% CI {detractor.ci_low * 100:+.1f} to {detractor.ci_high * 100:+.1f})"
    )
    advice = "; review the playbook" if kind == "backfire" else ""
    return f"{_PHRASES[kind]} {who}: {points}{advice}"


def summary_verdict(kinds: dict[str, str]) -> str:
    """Band verdict kinds in one line, e.g. "calls help high-risk customers; no measurable
    effect on medium- and low-risk customers"."""
    parts = []
    for kind, phrase in _PHRASES.items():
        bands = [band for band, k in kinds.items() if k == kind]
        if not bands:
            continue
        names = bands[0] if len(bands) == 1 else f"{'-, '.join(bands[:-1])}- and {bands[-1]}"
        parts.append(f"{phrase} {names}-risk customers")
    return "; ".join(parts) if parts else "no flagged customers in the period"
