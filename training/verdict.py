"""The one-line verdict on a training run, from DeLong's paired tests (pure, no HTML).

"Beats" is said only when the paired interval of the ROC-AUC difference lies above 0;
"worse than" only when it lies below; anything else is "not distinguishable from".
"""

from __future__ import annotations

import math
from collections.abc import Mapping

BASELINE_WORDS = {"logistic": "the logistic baseline", "one_rule": "the one rule"}


def verdict(
    metrics: Mapping[str, Mapping[str, float]],
    comparisons: Mapping[str, Mapping[str, float]],
) -> tuple[str, str]:
    """One line on whether LightGBM has skill and beats its baselines, and "ok" or "warn".

    ``comparisons`` maps a baseline to ``paired_auc_difference(y, p_lightgbm, p_baseline)``
    on the test rows; "ok" only when LightGBM has skill and beats the logistic baseline.
    """
    m = metrics.get("lightgbm", {})
    auc, low, high = (m.get(key, math.nan) for key in ("roc_auc", "roc_auc_low", "roc_auc_high"))
    shown = f"ROC-AUC {_num(auc)} [{_num(low)}, {_num(high)}]"
    if math.isnan(auc):
        return "ROC-AUC is undefined: the test period holds one class only.", "warn"
    if high < 0.5:
        return (
            f"Worse than chance: LightGBM's {shown} lies below 0.5; check the label direction.",
            "warn",
        )
    if low <= 0.5:
        return (
            f"No skill: LightGBM's {shown} includes 0.5, so its ranking cannot be told apart "
            "from chance on this test period.",
            "warn",
        )
    parts = [
        _against(name, comparisons[name])
        for name in BASELINE_WORDS
        if name in comparisons and not math.isnan(comparisons[name].get("difference", math.nan))
    ]
    if not parts:
        return f"LightGBM {shown}; no baseline to compare with.", "ok"
    logistic = comparisons.get("logistic", {})
    level = "ok" if logistic.get("low", math.nan) > 0 else "warn"
    rows = int(next(iter(c["n"] for c in comparisons.values() if "n" in c)))
    return (
        f"LightGBM ({shown}) "
        + "; ".join(parts)
        + f" (DeLong paired test, same {rows:,} test rows).",
        level,
    )


def comparison_word(test: Mapping[str, float]) -> str:
    """ "beats", "is worse than" or "is not distinguishable from", by the paired interval."""
    if test["low"] > 0:
        return "beats"
    if test["high"] < 0:
        return "is worse than"
    return "is not distinguishable from"


def _against(name: str, test: Mapping[str, float]) -> str:
    figures = (
        f"ROC-AUC {_num(test['auc_a'])} vs {_num(test['auc_b'])}, difference "
        f"{test['difference']:+.3f} [{test['low']:+.3f}, {test['high']:+.3f}], {_p(test['p_value'])}"
    )
    return f"{comparison_word(test)} {BASELINE_WORDS[name]}: {figures}"


def _num(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.3f}"


def _p(value: float) -> str:
    return "p < 0.001" if value < 0.001 else f"p = {value:.3f}"
