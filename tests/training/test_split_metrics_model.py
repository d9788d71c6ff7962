import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from nps_core.errors import NpsRiskError
from training.calibration import Calibrator
from training.metrics import (
    at_capacity_per_day,
    at_k,
    auc_with_ci,
    evaluate,
    expected_calibration_error,
    lift_by_decile,
    list_days,
    paired_brier_difference,
    wilson_interval,
)
from training.model import DetractorModel, LgbmParams
from training.split import PARTS, split_by_group, split_by_time


def _times(n: int) -> pd.Series:
    return pd.Series(pd.date_range("2026-01-01", periods=n, freq="h", tz="UTC"))


def test_time_split_trains_on_older_and_tests_on_newest():
    times = _times(1000).sample(frac=1, random_state=0).reset_index(drop=True)
    split = split_by_time(times)
    assert times.iloc[split.train].max() < times.iloc[split.valid].min()
    assert times.iloc[split.valid].max() < times.iloc[split.calib].min()
    assert times.iloc[split.calib].max() < times.iloc[split.test].min()
    assert sum(len(getattr(split, part)) for part in PARTS) == 1000
    assert 180 <= len(split.test) <= 220
    assert 80 <= len(split.valid) <= 120 and 80 <= len(split.calib) <= 120


def test_early_stopping_and_calibration_get_separate_rows():
    """Calibration and bands are fitted on rows the early stopping never saw: four disjoint
    parts, calibration the newest before the test period."""
    split = split_by_time(_times(1000))
    parts = [set(getattr(split, part).tolist()) for part in PARTS]
    assert all(not (a & b) for i, a in enumerate(parts) for b in parts[i + 1 :])
    assert split.valid_from < split.calib_from < split.test_from
    assert split.describe()["rows_calib"] == len(split.calib) > 0


def test_rows_at_one_instant_never_straddle_sets():
    days = ["2026-01-01"] * 500 + ["2026-01-02"] * 120 + ["2026-01-03"] * 130
    times = pd.Series(pd.to_datetime([*days, *["2026-01-04"] * 250], utc=True))
    split = split_by_time(times, min_rows=1)
    for part in PARTS:
        rows = getattr(split, part)
        assert rows.size > 0, part
        # every instant in a part brings all of its rows with it
        assert times.isin(times.iloc[rows].unique()).sum() == rows.size, part
    assert [len(getattr(split, p)) for p in PARTS] == [500, 120, 130, 250]


def test_test_from_is_honoured_and_too_little_data_is_refused():
    times = _times(1000)
    split = split_by_time(times, test_from=pd.Timestamp("2026-02-01", tz="UTC"))
    assert times.iloc[split.test].min() >= pd.Timestamp("2026-02-01", tz="UTC")
    assert times.iloc[split.calib].max() < pd.Timestamp("2026-02-01", tz="UTC")
    with pytest.raises(NpsRiskError, match="test set"):
        split_by_time(times, test_from=pd.Timestamp("2027-01-01", tz="UTC"))


def test_split_without_time_keeps_each_id_on_one_side():
    """A table without a time column: all rows of one id land in one set, never across."""
    rng = np.random.default_rng(0)
    ids = pd.Series([f"c{i}" for i in rng.integers(0, 150, 2000)])
    split = split_by_group(ids)
    sides = [set(ids.iloc[getattr(split, part)]) for part in PARTS]
    assert all(not (a & b) for i, a in enumerate(sides) for b in sides[i + 1 :])
    assert sum(len(getattr(split, part)) for part in PARTS) == 2000 and split.kind == "grouped"
    assert 0.15 <= len(split.test) / 2000 <= 0.25
    assert split_by_group(ids).test.tolist() == split.test.tolist()  # seeded


def test_delong_auc_matches_sklearn_and_covers_truth():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 3000)
    p = rng.normal(size=3000) + 0.8 * y
    auc, lo, hi = auc_with_ci(y, p)
    assert auc == pytest.approx(roc_auc_score(y, p))
    assert lo < auc < hi and hi - lo < 0.06
    noise = auc_with_ci(y, rng.normal(size=3000))
    assert noise[1] < 0.5 < noise[2]


def test_calibration_metrics_and_capacity_metrics():
    rng = np.random.default_rng(1)
    p = rng.uniform(0, 1, 20000)
    y = (rng.uniform(0, 1, 20000) < p).astype(int)
    assert expected_calibration_error(y, p) < 0.02
    assert expected_calibration_error(y, np.clip(p + 0.2, 0, 1)) > 0.15
    precision, recall = at_k(np.array([1, 0, 1, 0]), np.array([0.9, 0.8, 0.7, 0.1]), 2)
    assert (precision, recall) == (0.5, 0.5)
    lift = lift_by_decile(y, p)
    assert lift["lift"].iloc[0] > 1.7 > lift["lift"].iloc[-1]
    days = np.repeat(np.arange(100), 200)
    m = evaluate(y, p, k=50, days=days)
    assert {"roc_auc", "pr_auc", "brier", "log_loss", "ece", "precision_at_k"} <= set(m)
    assert m["k"] == 50 and m["list_days"] == 100
    assert m["detractor_rate_low"] < m["detractor_rate"] < m["detractor_rate_high"]


def test_precision_and_recall_at_k_are_per_list_day():
    """k is the daily capacity: each day the team calls that day's k riskiest, and the
    figures are averages over days. A busy day full of high scores must not take every call
    of the period, as one global top-k would."""
    # day 1: 4 rows, riskiest scores of the period, 1 Detractor; day 2: 4 rows, 2 Detractors
    y = np.array([1, 0, 0, 0, 1, 1, 0, 0])
    p = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2])
    days = np.array(["d1"] * 4 + ["d2"] * 4)
    daily = at_capacity_per_day(y, p, days, k=2)
    assert daily["precision_at_k"] == pytest.approx((0.5 + 1.0) / 2)
    assert daily["recall_at_k"] == pytest.approx((1.0 + 1.0) / 2)
    assert daily["list_days"] == 2 and daily["short_list_days"] == 0
    assert daily["precision_at_k_low"] < 0.75 < daily["precision_at_k_high"]
    assert at_k(y, p, 2) == (0.5, pytest.approx(1 / 3))  # the global top-2: another figure
    m = evaluate(y, p, k=2, days=days)
    assert m["precision_at_k"] == pytest.approx(0.75) and m["recall_at_k"] == pytest.approx(1.0)
    # a day with fewer rows than k: the team calls all of them
    short = at_capacity_per_day(np.array([1, 0, 1]), np.array([0.3, 0.2, 0.1]), ["a"] * 3, k=5)
    assert short["precision_at_k"] == pytest.approx(2 / 3) and short["short_list_days"] == 1
    # without list days there is no daily figure: NaN, not a global one under the same name
    assert np.isnan(evaluate(y, p, k=2)["precision_at_k"])


def test_list_day_is_the_utc_day_of_the_as_of_time():
    times = pd.Series(pd.to_datetime(["2026-03-01 23:59", "2026-03-02 00:01"], utc=True))
    assert list(list_days(times)) == list(pd.to_datetime(["2026-03-01", "2026-03-02"], utc=True))


def test_intervals_on_rates_and_differences():
    rate, low, high = wilson_interval(30, 100)
    assert (
        rate == 0.3
        and low == pytest.approx(0.2189, abs=1e-3)
        and high == pytest.approx(0.3958, abs=1e-3)
    )
    rng = np.random.default_rng(5)
    p = rng.uniform(0.05, 0.6, 4000)
    y = (rng.uniform(size=4000) < p).astype(int)
    worse = paired_brier_difference(y, np.clip(p + 0.15, 0, 1), p)
    assert worse["low"] > 0 and worse["difference"] == pytest.approx(
        worse["brier_a"] - worse["brier_b"]
    )
    same = paired_brier_difference(y, p, p)
    assert same["difference"] == 0 and same["low"] == 0 == same["high"]


@pytest.mark.parametrize("method", ["isotonic", "sigmoid"])
def test_calibrator_fixes_a_miscalibrated_score(method):
    rng = np.random.default_rng(2)
    p_true = rng.uniform(0.05, 0.6, 5000)
    y = (rng.uniform(size=5000) < p_true).astype(int)
    skewed = p_true**2
    cal = Calibrator(method).fit(skewed[:2500], y[:2500])
    fixed = cal.transform(skewed[2500:])
    assert (
        expected_calibration_error(y[2500:], fixed)
        < expected_calibration_error(y[2500:], skewed[2500:]) / 2
    )
    again = Calibrator.from_dict(cal.to_dict()).transform(skewed[2500:])
    np.testing.assert_allclose(again, fixed)
    # calibration must not throw away the ranking (inside the calibration data's range)
    test_scores, test_y = skewed[2500:], y[2500:]
    inside = (test_scores > skewed[:2500].min()) & (test_scores < skewed[:2500].max())
    auc_after = roc_auc_score(test_y[inside], fixed[inside])
    assert auc_after == pytest.approx(roc_auc_score(test_y[inside], test_scores[inside]), abs=1e-9)
    assert len(np.unique(fixed[inside])) > 0.99 * inside.sum()


@pytest.mark.parametrize("method", ["isotonic", "sigmoid"])
def test_calibration_never_reverses_the_ranking(method):
    """Calibration rows where the score runs the wrong way (a model without skill, fitted on
    other rows): the map answers about their rate and keeps the model's order."""
    rng = np.random.default_rng(4)
    scores = rng.uniform(0.05, 0.6, 2000)
    y = (rng.uniform(size=2000) < 0.7 - scores).astype(int)  # falls as the score rises
    cal = Calibrator(method).fit(scores, y)
    fresh = np.sort(rng.uniform(0.05, 0.6, 500))
    out = cal.transform(fresh)
    assert np.all(np.diff(out) > 0)
    assert abs(out.mean() - y.mean()) < 0.02


def _toy(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "escalations_30d": rng.poisson(0.5, n).astype(float),
            "mean_sentiment_30d": rng.uniform(-1, 1, n),
            "last_channel": pd.Series(rng.choice(["chat", "email", "phone"], n), dtype="str"),
            "noise": rng.normal(size=n),
        }
    )
    logit = (
        -1.5
        + 0.9 * frame["escalations_30d"]
        - 1.2 * frame["mean_sentiment_30d"]
        + 0.4 * (frame["last_channel"] == "phone")
    )
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-logit))).astype(int).to_numpy()
    return frame, y


@pytest.fixture(scope="module")
def toy_model():
    from features.catalog import FeatureSpec, feature_catalog

    catalog = feature_catalog(FeatureSpec())
    train, y = _toy(4000, 0)
    valid, y_valid = _toy(1500, 1)
    calib, y_calib = _toy(1500, 9)
    features = ["escalations_30d", "mean_sentiment_30d", "last_channel", "noise"]
    return DetractorModel(
        features,
        ["last_channel"],
        {k: v for k, v in catalog.items() if k in features},
        LgbmParams(max_rounds=300),
    ).fit(train, y, valid, y_valid, calib, y_calib)


def test_calibration_and_bands_come_from_the_calibration_rows_only():
    """Same training and early-stopping rows, other calibration labels: the booster is the
    same, the calibration and bands follow the calibration rows (and nothing else)."""
    train, y = _toy(3000, 0)
    valid, y_valid = _toy(1000, 1)
    calib, y_calib = _toy(1000, 2)
    features = ["escalations_30d", "mean_sentiment_30d", "noise"]
    params = LgbmParams(max_rounds=80, num_threads=1)
    base = DetractorModel(features, params=params).fit(train, y, valid, y_valid, calib, y_calib)
    more_detractors = np.maximum(y_calib, (np.arange(len(y_calib)) % 3 == 0).astype(int))
    shifted = DetractorModel(features, params=params).fit(
        train, y, valid, y_valid, calib, more_detractors
    )
    rows, _ = _toy(500, 3)
    matrix = base.encoder_.transform(rows)
    np.testing.assert_allclose(base.raw_scores(matrix), shifted.raw_scores(matrix))
    assert shifted.predict_proba(rows).mean() > base.predict_proba(rows).mean() + 0.1
    assert shifted.bands_["high"] > base.bands_["high"]
    # the calibration is exactly the one fitted on the booster's scores of the calibration rows
    raw_calib = base.raw_scores(base.encoder_.transform(calib))
    assert base.calibrator_.to_dict() == Calibrator().fit(raw_calib, y_calib).to_dict()


def test_model_save_load_round_trip(toy_model, tmp_path):
    rows, _ = _toy(200, 3)
    loaded, meta = DetractorModel.load(toy_model.save(tmp_path / "m", extra={"note": "x"}))
    np.testing.assert_allclose(loaded.predict_proba(rows), toy_model.predict_proba(rows))
    assert meta["note"] == "x" and meta["bands"]["high"] > meta["bands"]["medium"]


def test_unseen_and_missing_categories_do_not_break_prediction(toy_model):
    rows, _ = _toy(3, 4)
    rows["last_channel"] = pd.Series(["fax", None, "chat"], dtype="str")
    p = toy_model.predict_proba(rows)
    assert np.all((p > 0) & (p < 1))


def test_more_escalations_never_lower_the_risk(toy_model):
    """Directional: the monotone constraint holds for every row, not on average."""
    rows, _ = _toy(300, 5)
    base = toy_model.predict_proba(rows)
    more = toy_model.predict_proba(rows.assign(escalations_30d=rows["escalations_30d"] + 2))
    assert np.all(more >= base - 1e-12)
    assert (more > base).mean() > 0.5


def test_an_obvious_detractor_scores_high_and_reasons_name_the_cause(toy_model):
    rows = pd.DataFrame(
        {
            "escalations_30d": [5.0, 0.0],
            "mean_sentiment_30d": [-0.9, 0.8],
            "last_channel": pd.Series(["phone", "chat"], dtype="str"),
            "noise": [0.0, 0.0],
        }
    )
    p = toy_model.predict_proba(rows)
    assert p[0] > 0.6 > 0.2 > p[1]
    matrix = toy_model.encoder_.transform(rows)
    reasons = toy_model.reasons(matrix, toy_model.contributions(matrix))
    assert reasons[0][0].feature in {"escalations_30d", "mean_sentiment_30d"}
    assert "escalations in the last 30 days" in " ".join(r.text for r in reasons[0])
    assert [r.impact for r in reasons[0]] == sorted((r.impact for r in reasons[0]), reverse=True)


def test_unfitted_model_says_what_to_do():
    from nps_core.errors import ModelNotFoundError

    with pytest.raises(ModelNotFoundError, match="fit"):
        DetractorModel(["a"]).predict_matrix(np.zeros((1, 1)))
