"""The promotion gate in a real MLflow store: which rows it judges on, each check refusing
for real (a worse challenger, a miscalibrated one, too few new rows), the alias race, and
what may enter the local model cache."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest

from nps_core.config import Settings
from nps_core.errors import ModelNotFoundError
from training.calibration import Calibrator
from training.gate import Margins, holdout_check, newer_holdout
from training.metrics import auc_with_ci
from training.model import DetractorModel, LgbmParams
from training.registry import (
    CHAMPION,
    configure,
    load_cached,
    load_model,
    log_and_register,
    promote,
)
from training.workflow import TrainOutcome, train_from_data


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Its own store: these tests move both aliases at will."""
    return Settings(home=tmp_path_factory.mktemp("gate-home"), daily_capacity=20)


@pytest.fixture(scope="module")
def first(home: Settings, sim_dir: Path) -> tuple[TrainOutcome, object]:
    outcome = train_from_data(home, sim_dir)
    return outcome, promote(home)


def _aliases(settings: Settings, **versions: str) -> None:
    client = configure(settings)
    for alias, version in versions.items():
        client.set_registered_model_alias(settings.model_name, alias, version)


def _register_copy(
    settings: Settings,
    outcome: TrainOutcome,
    tmp: Path,
    *,
    change: Callable[[DetractorModel], None] | None = None,
    test_from: str | None = None,
) -> str:
    """The champion's model registered again as a new version (a challenger), changed by
    ``change``; ``test_from`` overrides its recorded training cut-off."""
    model, _ = DetractorModel.load(outcome.result.model.save(tmp / "copy"))
    if change:
        change(model)
    split = outcome.result.split.describe()
    if test_from:
        split["test_from"] = test_from
    logged = log_and_register(
        settings,
        model,
        params={"copy": "yes"},
        metrics={},
        meta={"split": split},
        artifacts={},
        holdout=outcome.result.test_rows,
    )
    return logged.version


def test_first_champion_is_judged_on_its_own_newest_rows(first):
    outcome, decision = first
    assert decision.promoted and decision.reason.startswith("promoted: first champion")
    assert [c.name for c in decision.checks] == ["hold-out", "skill"]
    assert decision.holdout_rows == len(outcome.result.test_rows)
    assert decision.challenger_auc_low > 0.5


def test_a_worse_challenger_is_kept_out_by_the_discrimination_check(first, home, sim_dir):
    """A real, deliberately worse challenger: two stumps (at most two features)."""
    _, decision = first
    worse = train_from_data(
        home, sim_dir, params=LgbmParams(num_leaves=2, max_rounds=2, num_threads=1)
    )
    refused = promote(home)
    assert not refused.promoted and refused.challenger_version == worse.logged.version
    assert refused.reason.startswith("refused by the discrimination")
    check = {c.name: c for c in refused.checks}["discrimination"]
    assert not check.passed and check.figures["low"] < -home.promotion_auc_margin
    assert f"{check.figures['difference']:+.4f}" in refused.reason  # the figures are named
    assert check.figures["auc_a"] < check.figures["auc_b"]
    assert load_model(home, CHAMPION).version == decision.challenger_version


def test_a_miscalibrated_challenger_is_kept_out_by_the_calibration_check(first, home, tmp_path):
    """Same ranking as the champion (a monotone change of its calibration), probabilities
    pushed up: the ranking check passes, the calibration check refuses."""
    outcome, decision = first

    def overconfident(model: DetractorModel) -> None:
        cal = model.calibrator_
        if cal.method_ == "isotonic":
            cal.y_ = np.sqrt(cal.y_)
        else:
            cal.y_ = cal.y_ + 1.0

    version = _register_copy(home, outcome, tmp_path, change=overconfident)
    _aliases(home, champion=decision.challenger_version)
    refused = promote(home)
    checks = {c.name: c for c in refused.checks}
    assert checks["discrimination"].passed and checks["skill"].passed
    assert not checks["calibration"].passed and not refused.promoted
    assert refused.reason.startswith(
        "refused by the calibration check: challenger - champion Brier"
    )
    assert checks["calibration"].figures["low"] > 0  # clearly worse, not only unproven
    assert refused.challenger_version == version


def test_an_equally_good_challenger_passes_every_check(first, home, tmp_path):
    outcome, decision = first
    version = _register_copy(home, outcome, tmp_path)
    _aliases(home, champion=decision.challenger_version)
    passed = promote(home)
    assert passed.promoted, passed.reason
    assert [c.name for c in passed.checks] == ["hold-out", "skill", "discrimination", "calibration"]
    assert passed.reason.startswith(f"promoted over champion version {decision.challenger_version}")
    assert load_model(home, CHAMPION).version == version


def test_the_holdout_is_newer_than_both_models_training_data(first, home, tmp_path):
    """A champion trained up to a later date than the challenger: only the challenger's test
    rows after that date count; too few of them and the gate refuses, saying so."""
    outcome, decision = first
    times = outcome.result.test_rows["responded_at"].sort_values()
    late = times.iloc[-40]  # 40 test rows at most are newer than this champion's training
    late_champion = _register_copy(home, outcome, tmp_path / "a", test_from=late.isoformat())
    challenger = _register_copy(home, outcome, tmp_path / "b")
    _aliases(home, champion=late_champion, challenger=challenger)
    refused = promote(home)
    assert not refused.promoted and refused.reason.startswith("refused by the hold-out check")
    rows = int((times >= late).sum())
    assert refused.holdout_rows == rows and f"{rows:,} rows" in refused.reason
    assert late.isoformat() in refused.reason and "newer than the challenger's" in refused.reason
    middle = times.iloc[len(times) // 3]
    mid_champion = _register_copy(home, outcome, tmp_path / "c", test_from=middle.isoformat())
    _aliases(home, champion=mid_champion, challenger=challenger)
    judged = promote(home)
    assert judged.holdout_rows == int((times >= middle).sum()) < len(times)
    assert judged.promoted, judged.reason
    _aliases(home, champion=decision.challenger_version)


def test_newer_holdout_and_its_size_check():
    rows = pd.DataFrame(
        {
            "t": pd.date_range("2026-01-01", periods=10, freq="D", tz="UTC"),
            "label": [0, 1] * 5,
        }
    )
    held = newer_holdout(rows, "t", {"challenger": "2026-01-03", "champion": "2026-01-06"})
    assert held.rows["t"].min() == pd.Timestamp("2026-01-06", tz="UTC") and len(held.rows) == 5
    margins = Margins(auc=0.01, brier=0.002, min_rows=6, min_class_rows=2)
    check = holdout_check(held.rows["label"].to_numpy(), held, margins)
    assert not check.passed and "5 rows (3 Detractors, 2 others)" in check.detail
    blind = newer_holdout(rows, "t", {"challenger": "2026-01-03", "champion": None})
    assert len(blind.rows) == 10 and "champion records no training cut-off" in blind.note
    untimed = newer_holdout(rows.drop(columns="t"), None, {"challenger": None})
    assert len(untimed.rows) == 10 and "no time column" in untimed.note


def test_the_challenger_is_judged_by_version_when_the_alias_moves(
    first, home, tmp_path, monkeypatch
):
    """Another `train` moves the challenger alias while promote runs: the version judged and
    the version promoted are the one read at the start, with its own figures."""
    outcome, decision = first
    good = _register_copy(home, outcome, tmp_path / "good")
    other = _register_copy(
        home,
        outcome,
        tmp_path / "other",
        change=lambda m: setattr(m, "calibrator_", Calibrator.from_dict(_flat())),
    )
    _aliases(home, champion=decision.challenger_version, challenger=good)
    real = mlflow.artifacts.download_artifacts
    moved: list[str] = []

    def download_then_move(*args, **kwargs):
        if not moved:
            _aliases(home, challenger=other)  # the race: it lands after the first read
            moved.append(other)
        return real(*args, **kwargs)

    monkeypatch.setattr(mlflow.artifacts, "download_artifacts", download_then_move)
    judged = promote(home)
    monkeypatch.undo()
    assert moved and judged.challenger_version == good
    y = outcome.result.test_rows["label"].to_numpy()
    assert judged.challenger_auc == pytest.approx(
        auc_with_ci(y, outcome.result.predictions["lightgbm"])[0]
    )
    assert judged.promoted and load_model(home, CHAMPION).version == good


def _flat() -> dict[str, object]:
    """A calibration that answers one probability for everyone: no skill at all."""
    return {"method": "sigmoid", "x": [0.0], "y": [-1.0]}


def test_a_deleted_champion_alias_means_no_model_not_the_cached_one(first, home):
    loaded = load_model(home, CHAMPION)  # leaves a local copy
    assert load_cached(home, CHAMPION) is not None
    client = configure(home)
    client.delete_registered_model_alias(home.model_name, CHAMPION)
    try:
        with pytest.raises(ModelNotFoundError, match="no such alias"):
            load_model(home, CHAMPION)
    finally:
        _aliases(home, champion=loaded.version)


def test_a_model_failing_the_smoke_test_never_enters_the_cache(first, home, tmp_path):
    outcome, _ = first

    def broken(model: DetractorModel) -> None:
        model.calibrator_.y_ = np.full_like(model.calibrator_.y_, math.nan)

    version = _register_copy(home, outcome, tmp_path, change=broken)
    _aliases(home, **{"broken": version})
    with pytest.raises(ModelNotFoundError, match="smoke test"):
        load_model(home, "broken")
    cache = home.mlruns_path / "serving-cache" / home.model_name
    assert load_cached(home, "broken") is None and not (cache / "broken.json").exists()
    assert not list(cache.glob(f"{version}-*")) and not list(cache.glob(".staging-*"))
    assert load_model(home, CHAMPION).source == "registry"  # the good ones still load
