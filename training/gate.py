"""The promotion gate's statistics, pure: which rows to judge on, and the checks.

A challenger replaces the champion only if, on rows newer than BOTH models' training data,
it has skill (ROC-AUC interval above 0.5), it is not worse at ranking beyond a margin
(DeLong's paired test, a non-inferiority test: the lower bound of challenger minus champion
stays above -margin) and not worse calibrated beyond a margin (paired Brier difference:
the upper bound stays below +margin). ``training.registry.promote`` does the I/O.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from nps_core.config import Settings
from training.metrics import (
    auc_with_ci,
    expected_calibration_error,
    paired_auc_difference,
    paired_brier_difference,
)


@dataclass(frozen=True)
class Margins:
    auc: float
    brier: float
    min_rows: int
    min_class_rows: int

    @classmethod
    def from_settings(cls, settings: Settings, auc: float | None = None) -> Margins:
        return cls(
            auc=settings.promotion_auc_margin if auc is None else auc,
            brier=settings.promotion_brier_margin,
            min_rows=settings.promotion_min_holdout_rows,
            min_class_rows=settings.promotion_min_class_rows,
        )


@dataclass(frozen=True)
class GateCheck:
    name: str  # "hold-out", "skill", "discrimination", "calibration"
    passed: bool
    detail: str  # the figures in words
    figures: dict[str, Any] = field(default_factory=dict)

    def line(self) -> str:
        return f"{self.name}: {'pass' if self.passed else 'FAIL'} - {self.detail}"


@dataclass(frozen=True)
class Holdout:
    rows: pd.DataFrame
    after: pd.Timestamp | None  # rows are at or after this time (None: no time to filter on)
    note: str  # how the rows were chosen, in words


def newer_holdout(
    rows: pd.DataFrame, time_column: str | None, cutoffs: dict[str, str | None]
) -> Holdout:
    """The challenger's test rows at or after every model's training cut-off (its test
    period's start: all its training rows are older). Without a time to filter on, the rows
    are kept whole and the note says what that means."""
    missing = [who for who, cut in cutoffs.items() if cut is None]
    if time_column is None or time_column not in rows.columns or missing:
        why = (
            "the challenger's test rows have no time column"
            if time_column is None or time_column not in rows.columns
            else f"the {' and the '.join(missing)} records no training cut-off (a split by id)"
        )
        return Holdout(
            rows.reset_index(drop=True),
            None,
            f"all of the challenger's test rows: {why}, so they cannot be shown to be newer "
            "than both models' training data (rows the champion trained on would favour it)",
        )
    after = max(_utc(cut) for cut in cutoffs.values() if cut is not None)
    times = pd.to_datetime(rows[time_column], utc=True)
    kept = rows[(times >= after).to_numpy()].reset_index(drop=True)
    return Holdout(
        kept,
        after,
        f"the challenger's test rows from {after.isoformat()} on, newer than "
        + " and ".join(f"the {who}'s training data" for who in cutoffs),
    )


def _utc(value: str) -> pd.Timestamp:
    stamp = pd.Timestamp(value)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def holdout_check(y: np.ndarray, holdout: Holdout, margins: Margins) -> GateCheck:
    positives = int(np.sum(y))
    negatives = len(y) - positives
    passed = len(y) >= margins.min_rows and min(positives, negatives) >= margins.min_class_rows
    need = f"at least {margins.min_rows:,} rows and {margins.min_class_rows:,} of each class needed"
    return GateCheck(
        "hold-out",
        passed,
        f"{len(y):,} rows ({positives:,} Detractors, {negatives:,} others): {holdout.note}; {need}",
        {
            "rows": len(y),
            "detractors": positives,
            "after": None if holdout.after is None else holdout.after.isoformat(),
            "min_rows": margins.min_rows,
            "min_class_rows": margins.min_class_rows,
        },
    )


def missing_features_check(missing: list[str], champion_version: str) -> GateCheck:
    shown = ", ".join(missing[:5]) + (", ..." if len(missing) > 5 else "")
    return GateCheck(
        "hold-out",
        False,
        f"the champion (version {champion_version}) needs {len(missing)} feature(s) the "
        f"challenger's hold-out lacks ({shown}): compare them on one data set",
        {"missing_features": missing},
    )


def skill_check(y: np.ndarray, p: np.ndarray) -> GateCheck:
    auc, low, high = auc_with_ci(y, p)
    return GateCheck(
        "skill",
        bool(low > 0.5),
        f"challenger ROC-AUC {auc:.3f} [{low:.3f}, {high:.3f}]; the 95% interval must clear 0.5",
        {"roc_auc": auc, "low": low, "high": high},
    )


def discrimination_check(
    y: np.ndarray, p_challenger: np.ndarray, p_champion: np.ndarray, margin: float
) -> GateCheck:
    test = paired_auc_difference(y, p_challenger, p_champion)
    return GateCheck(
        "discrimination",
        bool(test["low"] > -margin),
        f"challenger - champion ROC-AUC {test['difference']:+.4f} [{test['low']:+.4f}, "
        f"{test['high']:+.4f}], {_p(test['p_value'])} (DeLong paired; {test['auc_a']:.3f} vs "
        f"{test['auc_b']:.3f}); the lower bound must stay above {-margin:+.4f} "
        "(promotion_auc_margin)",
        {**test, "margin": margin},
    )


def calibration_check(
    y: np.ndarray, p_challenger: np.ndarray, p_champion: np.ndarray, margin: float
) -> GateCheck:
    test = paired_brier_difference(y, p_challenger, p_champion)
    ece_new, ece_old = (expected_calibration_error(y, p) for p in (p_challenger, p_champion))
    return GateCheck(
        "calibration",
        bool(test["high"] < margin),
        f"challenger - champion Brier {test['difference']:+.4f} [{test['low']:+.4f}, "
        f"{test['high']:+.4f}] (paired; {test['brier_a']:.4f} vs {test['brier_b']:.4f}; ECE "
        f"{ece_new:.3f} vs {ece_old:.3f}); the upper bound must stay below {margin:+.4f} "
        "(promotion_brier_margin)",
        {**test, "ece_challenger": ece_new, "ece_champion": ece_old, "margin": margin},
    )


def gate_reason(checks: list[GateCheck], champion_version: str | None) -> str:
    """One line: which checks refused, with their figures, or which checks passed (their
    figures are in each check's ``line()``)."""
    failed = [c for c in checks if not c.passed]
    if failed:
        kept = (
            f"; kept champion version {champion_version}"
            if champion_version
            else "; no champion set"
        )
        if len(failed) == 1:
            return f"refused by the {failed[0].name} check: {failed[0].detail}{kept}"
        return (
            f"refused by the {_names(failed)} checks: " + "; ".join(c.line() for c in failed) + kept
        )
    passed = _names(checks)
    if champion_version is None:
        return f"promoted: first champion ({passed} checks passed)"
    return f"promoted over champion version {champion_version} ({passed} checks passed)"


def _names(checks: list[GateCheck]) -> str:
    names = [c.name for c in checks]
    return ", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1 else names[0]


def _p(value: float) -> str:
    if math.isnan(value):
        return "p n/a"
    return "p < 0.001" if value < 0.001 else f"p = {value:.3f}"
