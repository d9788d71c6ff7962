import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from nps_core.errors import NpsRiskError
from training.calibration import Calibrator
from training.metrics import at_k, auc_with_ci, evaluate, expected_calibration_error, lift_by_decile
from training.model import DetractorModel, LgbmParams
from training.split import split_by_time, split_stratified


def _times(n: int) -> pd.Series:
    return pd.Series(pd.date_range("2026-01-01", periods=n, freq="h", tz="UTC"))


def test_time_split_trains_on_older_and_tests_on_newest():
    times = _times(1000).sample(frac=1, random_state=0).reset_index(drop=True)
    split = split_by_time(times)
    assert times.iloc[split.train].max() < times.iloc[split.valid].min()
    assert times.iloc[split.valid].max() < times.iloc[split.test].min()
    assert len(split.train) + len(split.valid) + len(split.test) == 1000
    assert 180 <= len(split.test) <= 220


def test_rows_at_one_instant_never_straddle_sets():
    times = pd.Series(
        pd.to_datetime(["2026-01-01"] * 300 + ["2026-01-02"] * 300 + ["2026-01-03"] * 400, utc=True)
    )
    split = split_by_time(times, min_rows=1)
    for part in (split.train, split.valid, split.test):
        assert part.size == 0 or times.iloc[part].nunique() >= 1
    sets = [set(times.iloc[p]) for p in (split.train, split.valid, split.test)]
    assert not (sets[0] & sets[1]) and not (sets[1] & sets[2]) and not (sets[0] & sets[2])


def test_test_from_is_honoured_and_too_little_data_is_refused():
    times = _times(1000)
    split = split_by_time(times, test_from=pd.Timestamp("2026-02-01", tz="UTC"))
    assert times.iloc[split.test].min() >= pd.Timestamp("2026-02-01", tz="UTC")
    assert times.iloc[split.valid].max() < pd.Timestamp("2026-02-01", tz="UTC")
    with pytest.raises(NpsRiskError, match="test set"):
        split_by_time(times, test_from=pd.Timestamp("2027-01-01", tz="UTC"))


def test_stratified_split_keeps_the_rate():
    y = np.array([1] * 200 + [0] * 800)
    split = split_stratified(y)
    assert abs(y[split.test].mean() - 0.2) < 0.01 and abs(y[split.train].mean() - 0.2) < 0.01


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
    assert {"roc_auc", "pr_auc", "brier", "log_loss", "ece", "precision_at_50"} <= set(
        evaluate(y, p, k=50)
    )


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
    features = ["escalations_30d", "mean_sentiment_30d", "last_channel", "noise"]
    return DetractorModel(
        features,
        ["last_channel"],
        {k: v for k, v in catalog.items() if k in features},
        LgbmParams(max_rounds=300),
    ).fit(train, y, valid, y_valid)


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
