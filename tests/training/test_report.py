"""The evaluation plots and the HTML report, drawn from a real (small) training run."""

import base64
import dataclasses
import html
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.catalog import FeatureSpec, feature_catalog
from nps_core.pages import environment
from training.metrics import paired_auc_difference
from training.model import LgbmParams
from training.plots import capacity_k, write_plots
from training.report import render_report, write_report
from training.split import split_by_time
from training.train import MODEL_NAMES, TrainResult, fit_and_evaluate
from training.verdict import verdict

FEATURES = [
    "escalations_30d",
    "mean_first_response_h_30d",
    "mean_sentiment_30d",
    "tenure_days",
    "last_channel",
]
CATEGORICAL = ["last_channel"]
PLOT_NAMES = {"roc", "pr", "calibration", "gains", "drivers"}
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
HOSTILE = "<script>alert('x')</script>"


def synthetic_rows(n: int = 1500, seed: int = 7) -> tuple[pd.DataFrame, np.ndarray]:
    """Escalations, slow answers, low sentiment and phone contacts raise the risk."""
    rng = np.random.default_rng(seed)
    escalations = rng.poisson(0.6, n).astype(float)
    wait = rng.gamma(2.0, 6.0, n)
    sentiment = rng.uniform(-1, 1, n)
    channel = rng.choice(["chat", "email", "phone", "social"], n, p=[0.45, 0.3, 0.23, 0.02])
    logit = -1.6 + 0.9 * escalations + 0.05 * wait - 1.2 * sentiment + 0.6 * (channel == "phone")
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    days = np.sort(rng.uniform(0, 180, n))
    rows = pd.DataFrame(
        {
            "escalations_30d": escalations,
            "mean_first_response_h_30d": wait,
            "mean_sentiment_30d": sentiment,
            "tenure_days": rng.uniform(10, 2000, n),
            "last_channel": channel,
            "channel": channel,
            "segment": rng.choice(["smb", "mid", "enterprise"], n),
            "responded_at": pd.Timestamp("2025-01-01", tz="UTC") + pd.to_timedelta(days, unit="D"),
        }
    )
    return rows, y


def train(rows: pd.DataFrame, y: np.ndarray) -> TrainResult:
    catalog = feature_catalog(FeatureSpec())
    return fit_and_evaluate(
        rows,
        y,
        split_by_time(rows["responded_at"]),
        FEATURES,
        CATEGORICAL,
        catalog={f: catalog[f] for f in FEATURES},
        params=LgbmParams(max_rounds=50, num_threads=1),
        k=20,
        day_column="responded_at",
    )


@pytest.fixture(scope="module")
def result() -> TrainResult:
    rows, y = synthetic_rows()
    return dataclasses.replace(train(rows, y), truth_auc=0.81)


@pytest.fixture(scope="module")
def shuffled() -> TrainResult:
    rows, y = synthetic_rows()
    return train(rows, np.random.default_rng(0).permutation(y))


@pytest.fixture(scope="module")
def plots(result: TrainResult, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return write_plots(result, tmp_path_factory.mktemp("plots"))


@pytest.fixture(scope="module")
def report(
    result: TrainResult, plots: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> str:
    context = {"data": "synthetic", **result.split.describe(), "model version": HOSTILE}
    path = write_report(
        result, plots, tmp_path_factory.mktemp("report"), title="Test <report>", context=context
    )
    assert path.name == "report.html"
    return path.read_text(encoding="utf-8")


def test_every_plot_is_a_real_png(plots):
    assert set(plots) == PLOT_NAMES
    for name, path in plots.items():
        data = path.read_bytes()
        assert data.startswith(PNG_MAGIC), name
        assert len(data) > 10_000, f"{name}.png looks empty ({len(data)} bytes)"


def test_report_embeds_one_image_per_plot(report, plots):
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', report)
    assert len(images) == len(plots)
    assert all(base64.b64decode(image).startswith(PNG_MAGIC) for image in images)
    assert 'src="http' not in report and "<link" not in report  # self-contained


def test_report_names_the_models_and_shows_their_metrics(report, result):
    for name in MODEL_NAMES:
        assert f"<code>{name}</code>" in report
        m = result.metrics[name]
        assert f"{m['roc_auc']:.3f} [{m['roc_auc_low']:.3f}, {m['roc_auc_high']:.3f}]" in report
        assert f"{m['brier']:.4f}" in report
        assert f"{m['pr_auc']:.3f}" in report
    assert "precision@20 per list day" in report
    m = result.metrics["lightgbm"]
    shown = (
        f"{m['precision_at_k']:.3f} [{m['precision_at_k_low']:.3f}, {m['precision_at_k_high']:.3f}]"
    )
    assert shown in report and f"{int(m['list_days'])} test days" in report
    assert result.baseline_notes["one_rule"] in report


def test_report_has_the_tables(report, result):
    for section in ("By channel", "By segment", "Lift by decile", "Calibration", "Validation"):
        assert section in report
    assert "few rows: read with care" in report  # the 2% "social" channel
    assert f"{result.valid_metrics['roc_auc']:.3f}" in report
    truth_ratio = result.metrics["lightgbm"]["roc_auc"] / 0.81
    assert f"{truth_ratio:.3f}" in report
    assert str(result.drivers["description"].iloc[0]) in report


def test_report_escapes_all_text(report):
    assert HOSTILE not in report
    assert "<script" not in report
    assert "&lt;script&gt;" in report
    assert "Test &lt;report&gt;" in report


def test_report_escapes_feature_names_and_driver_text(result, plots):
    drivers = pd.DataFrame(
        {"feature": ["tickets & calls"], "description": [HOSTILE], "mean_abs_shap": [0.2]}
    )
    page = render_report(dataclasses.replace(result, drivers=drivers), plots, title="t")
    assert "<code>tickets &amp; calls</code>" in page
    assert "<script" not in page and "&lt;script&gt;" in page


def test_report_uses_the_shared_layout_and_stylesheet(report):
    env = environment()
    style = env.loader.get_source(env, "style.css")[0]
    assert report.count("<style>") == 1 and f"<style>\n{style}</style>" in report
    assert report.startswith("<!doctype html>") and "<main>" in report


def test_verdict_sees_signal(report, result):
    assert "no skill" not in report.lower()
    text, level = verdict(result.metrics, result.comparisons)
    assert level in {"ok", "warn"}
    assert "logistic baseline" in text
    assert html.escape(text) in report
    c = result.comparisons["logistic"]
    assert f"[{c['low']:+.3f}, {c['high']:+.3f}]" in text  # the paired interval is shown


def test_verdict_says_no_skill_on_shuffled_labels(shuffled, plots, tmp_path):
    m = shuffled.metrics["lightgbm"]
    assert m["roc_auc_low"] <= 0.5 <= m["roc_auc_high"]
    page = write_report(shuffled, plots, tmp_path, title="shuffled").read_text()
    assert "No skill" in page
    assert "rows_test" in page  # without a context, the split is shown


def _paired(difference: float, half: float, p_value: float) -> dict[str, float]:
    return {
        "auc_a": 0.75 + difference,
        "auc_b": 0.75,
        "difference": difference,
        "low": difference - half,
        "high": difference + half,
        "p_value": p_value,
        "n": 1234.0,
    }


def test_verdict_cases():
    def metrics(lgbm: float, half: float = 0.02) -> dict[str, dict[str, float]]:
        return {
            "lightgbm": {"roc_auc": lgbm, "roc_auc_low": lgbm - half, "roc_auc_high": lgbm + half}
        }

    beats = {"logistic": _paired(0.012, 0.008, 0.003), "one_rule": _paired(0.05, 0.01, 1e-6)}
    text, level = verdict(metrics(0.762), beats)
    assert level == "ok" and text.startswith("LightGBM (ROC-AUC 0.762 [0.742, 0.782]) beats")
    assert (
        "beats the logistic baseline: ROC-AUC 0.762 vs 0.750, difference +0.012 [+0.004, +0.020], p = 0.003"
        in text
    )
    assert "beats the one rule" in text and "p < 0.001" in text and "1,234 test rows" in text
    worse = verdict(metrics(0.70), {"logistic": _paired(-0.05, 0.01, 1e-5)})
    assert "is worse than the logistic baseline" in worse[0] and worse[1] == "warn"
    assert verdict(metrics(0.51, half=0.05), beats)[0].startswith("No skill")
    assert verdict(metrics(0.40), beats)[0].startswith("Worse than chance")
    assert "undefined" in verdict(metrics(float("nan")), beats)[0]


def test_verdict_says_beats_only_when_the_paired_test_does(result):
    """A higher point estimate whose paired interval holds 0 is no win (the old verdict said
    "beats by +0.012" here)."""
    text, level = verdict(
        {"lightgbm": {"roc_auc": 0.762, "roc_auc_low": 0.74, "roc_auc_high": 0.78}},
        {"logistic": _paired(0.012, 0.02, 0.24)},
    )
    assert "beats" not in text and level == "warn"
    assert "is not distinguishable from the logistic baseline" in text
    assert "+0.012 [-0.008, +0.032], p = 0.240" in text
    p = result.predictions
    assert result.comparisons["logistic"] == paired_auc_difference(
        result.test_rows["label"].to_numpy(), p["lightgbm"], p["logistic"]
    )


def test_capacity_k_is_read_from_the_metrics():
    assert capacity_k({"roc_auc": 0.7, "k": 50.0, "precision_at_k": 0.3}) == 50
    assert capacity_k({"roc_auc": 0.7}) is None
