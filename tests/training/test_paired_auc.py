"""DeLong's paired test of two ROC-AUCs on the same rows, checked against a bootstrap."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from training.metrics import auc_with_ci, paired_auc_difference


def _two_correlated_models(
    n: int, seed: int, signal_a: float = 1.0, signal_b: float = 0.7
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labels and two scores that share most of their noise (as two models of one data do)."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.25).astype(np.int64)
    shared = rng.normal(size=n)
    p_a = signal_a * y + shared + 0.5 * rng.normal(size=n)
    p_b = signal_b * y + shared + 0.5 * rng.normal(size=n)
    return y, p_a, p_b


def _rank_auc(y: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """ROC-AUC of each column (ties counted half), vectorised over columns."""
    from scipy.stats import rankdata

    ranks = rankdata(scores, axis=0)
    m = y.sum()
    n = len(y) - m
    return (ranks[y == 1].sum(axis=0) - m * (m + 1) / 2) / (m * n)


def test_difference_is_the_difference_of_the_two_aucs() -> None:
    y, p_a, p_b = _two_correlated_models(1500, seed=1)
    out = paired_auc_difference(y, p_a, p_b)
    assert out["auc_a"] == pytest.approx(roc_auc_score(y, p_a), abs=1e-12)
    assert out["auc_b"] == pytest.approx(roc_auc_score(y, p_b), abs=1e-12)
    assert out["difference"] == pytest.approx(out["auc_a"] - out["auc_b"], abs=1e-12)
    assert out["low"] < out["difference"] < out["high"]
    assert out["n"] == 1500 and out["positives"] == y.sum()


def test_standard_error_and_interval_agree_with_a_paired_bootstrap() -> None:
    y, p_a, p_b = _two_correlated_models(2000, seed=2)
    out = paired_auc_difference(y, p_a, p_b)
    rng = np.random.default_rng(20)
    diffs = []
    for _ in range(1500):
        idx = rng.integers(0, len(y), len(y))
        if 0 < y[idx].sum() < len(idx):
            a, b = _rank_auc(y[idx], np.column_stack([p_a[idx], p_b[idx]]))
            diffs.append(a - b)
    boot = np.asarray(diffs)
    assert out["se"] == pytest.approx(boot.std(ddof=1), rel=0.10)
    low, high = np.quantile(boot, [0.025, 0.975])
    width = out["high"] - out["low"]
    assert abs(out["low"] - low) < 0.1 * width and abs(out["high"] - high) < 0.1 * width
    # pairing matters: the paired interval is far tighter than two separate ones would say
    sep = [auc_with_ci(y, p) for p in (p_a, p_b)]
    unpaired_se = math.hypot(*((hi - lo) / (2 * 1.959964) for _, lo, hi in sep))
    assert out["se"] < 0.8 * unpaired_se


def test_a_real_difference_is_found_and_a_null_one_is_not() -> None:
    y, p_a, p_b = _two_correlated_models(3000, seed=3, signal_a=1.0, signal_b=0.6)
    found = paired_auc_difference(y, p_a, p_b)
    assert found["difference"] > 0 and found["p_value"] < 0.001 and found["low"] > 0
    y, p_a, p_b = _two_correlated_models(3000, seed=4, signal_a=0.8, signal_b=0.8)
    null = paired_auc_difference(y, p_a, p_b)
    assert null["p_value"] > 0.05 and null["low"] < 0 < null["high"]


def test_false_alarm_rate_is_near_the_nominal_level() -> None:
    """Two equally good models: about 5% of data sets should show a 'significant' gap."""
    rejections = [
        paired_auc_difference(*_two_correlated_models(400, seed=s, signal_a=0.8, signal_b=0.8))[
            "p_value"
        ]
        < 0.05
        for s in range(400)
    ]
    assert 0.02 <= np.mean(rejections) <= 0.09


def test_swapping_the_models_flips_the_sign_only() -> None:
    y, p_a, p_b = _two_correlated_models(800, seed=5)
    ab, ba = paired_auc_difference(y, p_a, p_b), paired_auc_difference(y, p_b, p_a)
    assert ab["difference"] == pytest.approx(-ba["difference"])
    assert ab["z"] == pytest.approx(-ba["z"])
    assert ab["p_value"] == pytest.approx(ba["p_value"])
    assert ab["low"] == pytest.approx(-ba["high"]) and ab["high"] == pytest.approx(-ba["low"])


def test_monotone_transforms_change_nothing() -> None:
    y, p_a, p_b = _two_correlated_models(800, seed=6)
    plain = paired_auc_difference(y, p_a, p_b)
    squashed = paired_auc_difference(y, 1 / (1 + np.exp(-p_a)), np.exp(p_b))
    for key in ("difference", "se", "z", "p_value"):
        assert squashed[key] == pytest.approx(plain[key], rel=1e-9, abs=1e-12)


def test_against_a_constant_score_it_is_the_single_auc_interval() -> None:
    """B without skill (one value for all) has no variance: the paired test reduces to A's own
    DeLong interval, shifted by 0.5."""
    y, p_a, _ = _two_correlated_models(1000, seed=7)
    out = paired_auc_difference(y, p_a, np.zeros(len(y)))
    auc, lo, hi = auc_with_ci(y, p_a)
    assert out["auc_b"] == 0.5 and out["difference"] == pytest.approx(auc - 0.5)
    assert out["low"] == pytest.approx(lo - 0.5) and out["high"] == pytest.approx(hi - 0.5)


def test_identical_scores_and_missing_class_are_handled() -> None:
    y, p_a, _ = _two_correlated_models(300, seed=8)
    same = paired_auc_difference(y, p_a, p_a.copy())
    assert same["difference"] == 0 and same["se"] == 0 and same["p_value"] == 1.0
    none = paired_auc_difference(np.zeros(5), np.arange(5.0), np.arange(5.0))
    assert math.isnan(none["difference"]) and math.isnan(none["p_value"]) and none["n"] == 5
    with pytest.raises(ValueError, match="labels"):
        paired_auc_difference(y, p_a[:-1], p_a[:-1])
