"""The model quality bars, measured: every figure of docs/model-quality.md comes from here.

    python -m benchmarks.model_quality [--quick] [--threads N] [--json FILE]

1. Simulator: the calibrated model's ROC-AUC against the AUC of the simulator's true
   probabilities on the same test rows (bar: ratio >= 0.97), and its calibration error
   (bar: ECE <= 0.02). Run twice on the same size and seed: as shipped, and with
   ``patience_sd=0`` (no latent per-customer patience), to show what that latent costs.
2. The real e-commerce CSAT file: imported with the shipped mapping, trained on the earlier
   weeks, tested on the last ~30% of answers, against a plain LightGBM on the raw columns
   known before the survey, scored on the SAME test rows (DeLong paired test).
3. Shuffled labels: survey scores permuted in a simulated DIR; the pipeline must show no
   skill and ``promote`` must refuse.

Nothing is tuned: every model uses the shipped defaults (only ``num_threads`` is set), the
test period is the pipeline's own (newest 20%) for the simulator and a date fixed by the
share of answers (not by results) for the CSAT file. Every run uses a throwaway MLflow home,
never the repository's ``mlruns/``. Figures are saved as JSON (``.bench/model_quality.json``
by default); ``--doc docs/model-quality.md`` renders the whole document from that JSON
(``benchmarks.model_quality_doc``), so the document always comes from one run.

Over 400 lines: three studies that share their helpers (the sizes, the throwaway homes, the
statistics) sit in one file.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks import log
from benchmarks.paths import ECOMMERCE_CSV, ECOMMERCE_MAPPING

RATIO_BAR = 0.97
ECE_BAR = 0.02
SIMULATOR_TEST_SHARE = 0.2  # the pipeline's own default test period (split_by_time)
TEST_SHARE_MAX = 0.30  # CSAT file: the test period starts on the first day after which at most
# this share of the answers remains (a date chosen by counts, never by results)

# The raw columns of the CSAT export known before the survey (never the remarks, the survey
# date or the score). The response delay is derived from two of them.
RAW_CATEGORICAL = (
    "channel_name",
    "category",
    "Sub-category",
    "Agent_name",
    "Supervisor",
    "Manager",
    "Tenure Bucket",
    "Agent Shift",
    "Product_category",
)
RAW_NUMERIC = ("Item_price", "connected_handling_time")
RAW_TIME_FORMAT = "%d/%m/%Y %H:%M"


@dataclass(frozen=True)
class Sizes:
    customers: int
    days: int
    seed: int
    shuffled_customers: int
    shuffled_seeds: tuple[int, ...]
    bootstrap: int
    second_seed: int | None  # the shipped simulator again on another seed: is the ratio stable?


FULL = Sizes(80_000, 365, 1, 20_000, (1, 2, 3), 2000, 2)
QUICK = Sizes(8_000, 365, 1, 5_000, (1,), 300, None)


# --- statistics -------------------------------------------------------------------------


def _rank_aucs(y: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """ROC-AUC of each column of ``scores`` (ties count half)."""
    from scipy.stats import rankdata

    ranks = rankdata(scores, axis=0)
    m = int(y.sum())
    n = len(y) - m
    return (ranks[y == 1].sum(axis=0) - m * (m + 1) / 2) / (m * n)


def ratio_intervals(
    y: np.ndarray, p_model: np.ndarray, p_truth: np.ndarray, *, resamples: int, seed: int = 0
) -> dict[str, float]:
    """Paired bootstrap (rows resampled together) of model/truth and of the skill ratio
    (model - 0.5) / (truth - 0.5): 95% percentile intervals."""
    rng = np.random.default_rng(seed)
    scores = np.column_stack([p_model, p_truth])
    ratios, skills = [], []
    for _ in range(resamples):
        idx = rng.integers(0, len(y), len(y))
        if 0 < y[idx].sum() < len(idx):
            a, t = _rank_aucs(y[idx], scores[idx])
            ratios.append(a / t)
            skills.append((a - 0.5) / (t - 0.5))
    r_lo, r_hi = np.quantile(ratios, [0.025, 0.975])
    s_lo, s_hi = np.quantile(skills, [0.025, 0.975])
    return {
        "ratio_low": float(r_lo),
        "ratio_high": float(r_hi),
        "skill_ratio_low": float(s_lo),
        "skill_ratio_high": float(s_hi),
        "share_of_resamples_ratio_at_least_bar": float(np.mean(np.asarray(ratios) >= RATIO_BAR)),
    }


def ece_noise(p: np.ndarray, *, repeats: int = 200, seed: int = 0) -> dict[str, float]:
    """ECE of a perfectly calibrated model at this n: labels drawn from p itself. What
    the ECE shows from sampling noise alone (median and 95th percentile)."""
    from training.metrics import expected_calibration_error

    rng = np.random.default_rng(seed)
    values = [
        expected_calibration_error((rng.random(len(p)) < p).astype(np.int64), p)
        for _ in range(repeats)
    ]
    return {"median": float(np.median(values)), "p95": float(np.quantile(values, 0.95))}


def team_figures(y: np.ndarray, p: np.ndarray, as_of: pd.Series, k: int) -> dict[str, float]:
    """What a support team gets: each list day (the day of a row's as-of time), call the k
    riskiest of that day's answerers (training.metrics, the one implementation the training
    report and MLflow use), and the riskiest tenth of the whole test period."""
    from training.metrics import at_capacity_per_day, lift_by_decile, list_days, wilson_interval

    days = list_days(as_of)
    daily = at_capacity_per_day(y, p, days, k)
    per_day = pd.Series(days).value_counts()
    deciles = lift_by_decile(y, p)
    top_n = int(deciles["n"].iloc[0])
    top_hits = float(deciles["detractor_rate"].iloc[0]) * top_n
    base, base_low, base_high = wilson_interval(float(np.sum(y)), float(len(y)))
    top, top_low, top_high = wilson_interval(top_hits, float(top_n))
    return {
        "k_per_day": float(k),
        "days": daily["list_days"],
        "short_days": daily["short_list_days"],
        "answers_per_day": float(per_day.median()),
        "k_share_of_day": float(np.mean(np.minimum(k, per_day) / per_day)),
        "precision_at_k_per_day": daily["precision_at_k"],
        "precision_at_k_per_day_low": daily["precision_at_k_low"],
        "precision_at_k_per_day_high": daily["precision_at_k_high"],
        "recall_at_k_per_day": daily["recall_at_k"],
        "recall_at_k_per_day_low": daily["recall_at_k_low"],
        "recall_at_k_per_day_high": daily["recall_at_k_high"],
        "precision_over_base_rate": daily["precision_at_k"] / base if base else math.nan,
        "base_rate": base,
        "base_rate_low": base_low,
        "base_rate_high": base_high,
        "top_decile_precision": top,
        "top_decile_precision_low": top_low,
        "top_decile_precision_high": top_high,
        "top_decile_lift": float(deciles["lift"].iloc[0]),
        "top_decile_recall": top_hits / max(float(np.sum(y)), 1.0),
    }


# --- helpers ----------------------------------------------------------------------------


def _settings(home: Path) -> Any:
    """Settings for a throwaway home. mlflow.set_tracking_uri() also exports
    MLFLOW_TRACKING_URI, which Settings.tracking_uri prefers over the home's own store: left
    set, every later home in this process would write into the first one's store."""
    from nps_core.config import Settings

    os.environ.pop("MLFLOW_TRACKING_URI", None)
    return Settings(home=home)


def _params(settings: Any, threads: int) -> Any:
    from training.model import LgbmParams

    return LgbmParams(random_state=settings.random_state, num_threads=threads)


def _auc(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    from training.metrics import auc_with_ci

    auc, low, high = auc_with_ci(y, p)
    return {"roc_auc": auc, "low": low, "high": high}


def _model_figures(metrics: dict[str, float]) -> dict[str, float]:
    keep = ("roc_auc", "roc_auc_low", "roc_auc_high", "pr_auc", "brier", "log_loss", "ece")
    return {k: float(metrics[k]) for k in keep}


def _validation_figures(result: Any) -> dict[str, float]:
    """LightGBM on the early-stopping rows (they chose the rounds: optimistic)."""
    return {k: result.valid_metrics[k] for k in ("roc_auc", "ece", "n")}


def _raw_scores(result: Any) -> np.ndarray:
    """The booster's test scores before calibration (isotonic steps create ties; diagnostic)."""
    model = result.model
    return model.raw_scores(model.encoder_.transform(result.test_rows))


# --- bar 1: the simulator ---------------------------------------------------------------


def bar_simulator(
    work: Path, sizes: Sizes, patience_sd: float, threads: int, seed: int | None = None
) -> dict[str, Any]:
    from features.simulate import SimulationConfig, simulate, write_simulation
    from training.metrics import evaluate, paired_auc_difference
    from training.workflow import train_from_data

    seed = sizes.seed if seed is None else seed
    config = SimulationConfig(
        customers=sizes.customers, days=sizes.days, seed=seed, patience_sd=patience_sd
    )
    name = f"patience-{patience_sd:g}-seed-{seed}"
    data = work / f"sim-{name}"
    begin = time.perf_counter()
    sim = simulate(config)
    write_simulation(sim, data)
    simulate_s = time.perf_counter() - begin
    log(
        f"bar 1 (patience_sd={patience_sd:g}, seed {seed}): {len(sim.interactions):,} interactions, "
        f"{len(sim.surveys):,} answers; training"
    )
    settings = _settings(work / f"home-{name}")
    begin = time.perf_counter()
    outcome = train_from_data(settings, data, params=_params(settings, threads))
    train_s = time.perf_counter() - begin
    result = outcome.result
    test = result.test_rows
    y = test["label"].to_numpy(dtype=np.int64)
    truth = sim.truth.drop_duplicates("response_id").set_index("response_id")["p_detractor"]
    p_truth = truth.reindex(test["response_id"]).to_numpy()
    if np.isnan(p_truth).any():
        raise RuntimeError("a test row has no true probability")
    p_model = result.predictions["lightgbm"]
    model, truth_auc = _auc(y, p_model), _auc(y, p_truth)
    ratio = model["roc_auc"] / truth_auc["roc_auc"]
    skill = (model["roc_auc"] - 0.5) / (truth_auc["roc_auc"] - 0.5)
    truth_metrics = evaluate(y, p_truth, k=settings.daily_capacity)
    figures = {
        "config": {
            "customers": sizes.customers,
            "days": sizes.days,
            "seed": seed,
            "patience_sd": patience_sd,
        },
        "data": {
            "interactions": len(sim.interactions),
            "answers": len(sim.surveys),
            **result.split.describe(),
            "test_detractor_rate": float(y.mean()),
            "test_detractors": int(y.sum()),
            "test_mean_predicted": float(p_model.mean()),
        },
        "model": _model_figures(result.metrics["lightgbm"]),
        "model_uncalibrated_roc_auc": _auc(y, _raw_scores(result))["roc_auc"],
        "truth": {**truth_auc, "brier": truth_metrics["brier"], "ece": truth_metrics["ece"]},
        "ratio": ratio,
        "skill_ratio": skill,
        **ratio_intervals(y, p_model, p_truth, resamples=sizes.bootstrap),
        "model_minus_truth": paired_auc_difference(y, p_model, p_truth),
        "baselines": {
            name: _model_figures(result.metrics[name]) for name in ("logistic", "one_rule")
        },
        "baseline_notes": result.baseline_notes,
        "ece_noise_at_this_n": ece_noise(p_model),
        "validation": _validation_figures(result),
        "team": team_figures(y, p_model, test["as_of"], settings.daily_capacity),
        "team_truth": team_figures(y, p_truth, test["as_of"], settings.daily_capacity),
        "top_drivers": result.drivers.head(8)[["feature", "mean_abs_shap"]].to_dict("records"),
        "seconds": {"simulate": simulate_s, "train_evaluate_register": train_s},
    }
    figures["bar"] = {
        "ratio_at_least_0.97": bool(ratio >= RATIO_BAR),
        "ece_at_most_0.02": bool(figures["model"]["ece"] <= ECE_BAR),
    }
    return figures


# --- bar 2: the e-commerce CSAT file ----------------------------------------------------


def choose_test_from(surveys: pd.DataFrame) -> tuple[str, float]:
    """The first answer day from which at most TEST_SHARE_MAX of the answers remain."""
    day = surveys["responded_at"].dt.floor("D")
    counts = day.value_counts().sort_index()
    remaining = counts[::-1].cumsum()[::-1] / len(day)
    first = remaining[remaining <= TEST_SHARE_MAX].index[0]
    return first.strftime("%Y-%m-%d"), float(remaining.loc[first])


def raw_frame(raw: pd.DataFrame, ids: pd.Series, train_positions: np.ndarray) -> pd.DataFrame:
    """The reference's inputs in the order of ``ids``: raw categoricals (categories learned on
    the training rows only), raw numbers, and the response delay in minutes."""
    if not ids.isin(raw["Unique id"]).all() or raw["Unique id"].duplicated().any():
        raise RuntimeError("answers and raw rows do not match one to one")
    rows = raw.set_index("Unique id").reindex(ids.to_numpy())
    reported = pd.to_datetime(rows["Issue_reported at"], format=RAW_TIME_FORMAT)
    responded = pd.to_datetime(rows["issue_responded"], format=RAW_TIME_FORMAT)
    columns: dict[str, Any] = {
        "response_delay_min": ((responded - reported).dt.total_seconds() / 60).to_numpy()
    }
    for name in RAW_NUMERIC:
        columns[name] = pd.to_numeric(rows[name].replace("", None), errors="coerce").to_numpy()
    for name in RAW_CATEGORICAL:
        values = rows[name].replace("", None)
        categories = sorted(values.iloc[train_positions].dropna().unique())
        columns[name] = pd.Categorical(values.where(values.isin(categories)), categories=categories)
    return pd.DataFrame(columns)


def fit_reference(frame: pd.DataFrame, y: np.ndarray, split: Any, threads: int, seed: int) -> Any:
    """Plain LightGBM (library defaults, learning rate 0.05) with early stopping on the
    validation weeks (never the test weeks)."""
    import lightgbm as lgb

    model = lgb.LGBMClassifier(
        n_estimators=5000, learning_rate=0.05, random_state=seed, n_jobs=threads, verbose=-1
    )
    return model.fit(
        frame.iloc[split.train],
        y[split.train],
        eval_X=(frame.iloc[split.valid],),
        eval_y=(y[split.valid],),
        callbacks=[lgb.early_stopping(100, verbose=False)],
    )


def candidate_signals(
    raw: pd.DataFrame, ids: pd.Series, train_positions: np.ndarray
) -> pd.DataFrame:
    """Raw signals known before the survey that neither model uses, for the screen below."""
    rows = raw.set_index("Unique id").reindex(ids.to_numpy())
    reported = pd.to_datetime(rows["Issue_reported at"], format=RAW_TIME_FORMAT)
    responded = pd.to_datetime(rows["issue_responded"], format=RAW_TIME_FORMAT)
    ordered = pd.to_datetime(
        rows["order_date_time"].replace("", None), format=RAW_TIME_FORMAT, errors="coerce"
    )
    city = rows["Customer_City"].replace("", None)
    cities = sorted(city.iloc[train_positions].dropna().unique())
    return pd.DataFrame(
        {
            "reported_hour": reported.dt.hour.to_numpy(),
            "reported_weekday": reported.dt.day_of_week.to_numpy(),
            "responded_hour": responded.dt.hour.to_numpy(),
            "order_age_h": ((reported - ordered).dt.total_seconds() / 3600).to_numpy(),
            "Customer_City": pd.Categorical(city.where(city.isin(cities)), categories=cities),
        }
    )


def screen_on_validation(
    frame: pd.DataFrame, extra: pd.DataFrame, y: np.ndarray, split: Any, threads: int, seed: int
) -> dict[str, dict[str, float]]:
    """Each candidate added alone to the reference, judged on the VALIDATION weeks only (the
    test weeks stay untouched). Early stopping also sees those weeks, so both sides are a
    little optimistic; the difference is what matters, and it is noisy (~1.8k rows)."""
    from training.metrics import paired_auc_difference

    y_valid = y[split.valid]
    base = fit_reference(frame, y, split, threads, seed)
    p_base = base.predict_proba(frame.iloc[split.valid])[:, 1]
    out = {}
    for name in extra.columns:
        wider = frame.assign(**{name: extra[name]})  # same RangeIndex
        model = fit_reference(wider, y, split, threads, seed)
        p = model.predict_proba(wider.iloc[split.valid])[:, 1]
        out[name] = paired_auc_difference(y_valid, p, p_base)
    return out


def bar_ecommerce(work: Path, sizes: Sizes, threads: int) -> dict[str, Any]:
    from features.importer import import_export
    from features.readers import read_raw
    from training.metrics import evaluate, paired_auc_difference
    from training.workflow import train_from_data

    data = work / "ecommerce"
    report = import_export(ECOMMERCE_CSV, ECOMMERCE_MAPPING, data)
    surveys = pd.read_parquet(data / "surveys.parquet")
    test_from, test_share = choose_test_from(surveys)
    log(f"bar 2: CSAT file imported, test from {test_from} ({test_share:.1%} of answers)")
    settings = _settings(work / "home-ecommerce")
    outcome = train_from_data(
        settings, data, test_from=test_from, params=_params(settings, threads)
    )
    result = outcome.result
    test = result.test_rows
    y_test = test["label"].to_numpy(dtype=np.int64)
    p_ours = result.predictions["lightgbm"]

    # The reference sees the same rows in the same split: rebuild our row order from the
    # response ids (train and valid rows are not kept by the result, only their positions).
    from features.dataset import load_dataset
    from features.rows import build_training_rows, learn_spec

    dataset = load_dataset(data)
    rows = build_training_rows(
        dataset.interactions,
        dataset.surveys,
        dataset.customers,
        learn_spec(dataset.interactions, dataset.scale),
        lag_s=settings.feature_lag_s,
    )
    ids = rows["response_id"]
    if not np.array_equal(ids.iloc[result.split.test].to_numpy(), test["response_id"].to_numpy()):
        raise RuntimeError("rebuilt rows do not line up with the pipeline's test rows")
    raw = read_raw(ECOMMERCE_CSV, encoding="utf-8-sig")
    frame = raw_frame(raw, ids, result.split.train)
    score = pd.to_numeric(raw.set_index("Unique id").reindex(ids.to_numpy())["CSAT Score"])
    y = (score <= 2).astype(np.int64).to_numpy()
    if not np.array_equal(y[result.split.test], y_test):
        raise RuntimeError("the reference's labels differ from ours on the test rows")
    seed = settings.random_state
    reference = fit_reference(frame, y, result.split, threads, seed)
    p_ref = reference.predict_proba(frame.iloc[result.split.test])[:, 1]
    gain = pd.Series(reference.booster_.feature_importance("gain"), index=frame.columns)
    gain = (gain / gain.sum()).sort_values(ascending=False)
    rounds = int(reference.best_iteration_)
    # What the reference gets from the one raw column our features drop (item price):
    no_price = frame.drop(columns="Item_price")
    p_ref_no_price = fit_reference(no_price, y, result.split, threads, seed).predict_proba(
        no_price.iloc[result.split.test]
    )[:, 1]
    screen = screen_on_validation(
        frame, candidate_signals(raw, ids, result.split.train), y, result.split, threads, seed
    )
    ref_metrics = evaluate(y_test, p_ref, k=settings.daily_capacity)
    spread = rows.iloc[result.split.train][result.features].nunique(dropna=False)
    varying = [f for f in result.features if spread[f] > 1]
    raw_ours = _raw_scores(result)
    figures = {
        "import": {
            name: {"read": t.rows_read, "kept": t.kept} for name, t in report.tables.items()
        },
        "data": {
            **result.split.describe(),
            "test_share_of_answers": test_share,
            "test_detractor_rate": float(y_test.mean()),
            "test_detractors": int(y_test.sum()),
            "test_mean_predicted": float(p_ours.mean()),
        },
        "ours": _model_figures(result.metrics["lightgbm"]),
        "ours_uncalibrated_roc_auc": _auc(y_test, raw_ours)["roc_auc"],
        "ours_uncalibrated_minus_reference": paired_auc_difference(y_test, raw_ours, p_ref),
        "distinct_scores_on_test": {
            "calibrated": len(np.unique(p_ours)),
            "uncalibrated": len(np.unique(raw_ours)),
        },
        "calibration_method": result.model.calibrator_.method_,
        "reference": {**_model_figures(ref_metrics), "rounds": rounds},
        "ours_minus_reference": paired_auc_difference(y_test, p_ours, p_ref),
        "reference_without_item_price": _auc(y_test, p_ref_no_price),
        "reference_minus_reference_without_item_price": paired_auc_difference(
            y_test, p_ref, p_ref_no_price
        ),
        "baselines": {
            name: _model_figures(result.metrics[name]) for name in ("logistic", "one_rule")
        },
        "ece_noise_at_this_n": ece_noise(p_ours),
        "validation": _validation_figures(result),
        "team": team_figures(y_test, p_ours, test["as_of"], settings.daily_capacity),
        "team_reference": team_figures(y_test, p_ref, test["as_of"], settings.daily_capacity),
        "reference_gain_share": {k: float(v) for k, v in gain.items()},
        "our_top_drivers": result.drivers.head(12)[["feature", "mean_abs_shap"]].to_dict("records"),
        "candidates_on_validation_weeks": screen,
        "our_features": len(result.features),
        "our_features_constant_on_training_rows": len(result.features) - len(varying),
        "raw_columns_our_features_lack": _lacking(result.features, varying),
    }
    diff = figures["ours_minus_reference"]
    ours = figures["ours"]
    figures["half_widths"] = {  # what the test set can resolve (for the caveats)
        "single_auc": (ours["roc_auc_high"] - ours["roc_auc_low"]) / 2,
        "paired_difference": (diff["high"] - diff["low"]) / 2,
    }
    figures["bar"] = {
        "ours_ahead": bool(diff["difference"] > 0),
        "ahead_significantly_(interval_above_0)": bool(diff["low"] > 0),
    }
    return figures


def _lacking(features: list[str], varying: list[str]) -> list[str]:
    """Raw columns of the reference that no feature of ours carries (absent, or constant on
    the training rows)."""
    ours = {
        "channel_name": "last_channel",
        "category": "last_category",
        "Sub-category": "last_sub_category",
        "Agent_name": "last_agent_detractor_rate",  # as a smoothed history, not the identity
        "Supervisor": "last_team",
        "Manager": "last_manager",
        "Tenure Bucket": "last_agent_tenure_bucket",
        "Agent Shift": "last_agent_shift",
        "Product_category": "last_product_category",
        "Item_price": "last_item_price",
        "connected_handling_time": "mean_handle_time_min_30d",
        "response_delay_min": "last_contact_response_wait_h",
    }
    return [
        f"{raw} ({'constant' if feature in features else 'absent'}: {feature})"
        for raw, feature in ours.items()
        if feature not in varying
    ]


# --- bar 3: shuffled labels -------------------------------------------------------------


def bar_shuffled(work: Path, sizes: Sizes, threads: int) -> dict[str, Any]:
    from features.simulate import SimulationConfig, simulate, write_simulation
    from training.registry import promote
    from training.workflow import train_from_data

    runs = []
    for seed in sizes.shuffled_seeds:
        sim = simulate(
            SimulationConfig(customers=sizes.shuffled_customers, days=sizes.days, seed=seed)
        )
        rng = np.random.default_rng(1000 + seed)
        surveys = sim.surveys.assign(
            score=sim.surveys["score"].to_numpy()[rng.permutation(len(sim.surveys))]
        )
        data = work / f"shuffled-{seed}"
        write_simulation(type(sim)(sim.interactions, surveys, sim.customers, sim.truth), data)
        log(f"bar 3: shuffled scores, seed {seed}: {len(surveys):,} answers; training")
        settings = _settings(work / f"home-shuffled-{seed}")  # empty registry: no champion
        outcome = train_from_data(settings, data, params=_params(settings, threads))
        decision = promote(settings)
        m = outcome.result.metrics["lightgbm"]
        runs.append(
            {
                "seed": seed,
                "answers": len(surveys),
                "rows_test": len(outcome.result.split.test),
                "roc_auc": m["roc_auc"],
                "low": m["roc_auc_low"],
                "high": m["roc_auc_high"],
                "logistic_roc_auc": outcome.result.metrics["logistic"]["roc_auc"],
                "truth_roc_auc_on_shuffled_labels": outcome.result.truth_auc,
                "promote_auc_low": decision.challenger_auc_low,
                "promoted": decision.promoted,
                "reason": decision.reason,
            }
        )
    return {
        "customers": sizes.shuffled_customers,
        "days": sizes.days,
        "runs": runs,
        "runs_count": len(runs),
        "no_skill_count": sum(r["low"] <= 0.5 for r in runs),
        "refused_count": sum(not r["promoted"] for r in runs),
        "bar": {
            "no_skill_in_every_run": all(r["low"] <= 0.5 for r in runs),
            "refused_in_every_run": not any(r["promoted"] for r in runs),
        },
    }


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.model_quality",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--quick", action="store_true", help="small simulations: a smoke test, not the figures"
    )
    parser.add_argument("--threads", type=int, default=2, help="LightGBM threads (default 2)")
    parser.add_argument(
        "--only",
        action="append",
        choices=["simulator", "ecommerce", "shuffled"],
        help="run only this bar (repeatable)",
    )
    parser.add_argument(
        "--json", type=Path, default=Path(".bench/model_quality.json"), help="where the figures go"
    )
    parser.add_argument(
        "--doc",
        type=Path,
        help="also write the Markdown document rendered from the JSON (docs/model-quality.md)",
    )
    args = parser.parse_args(argv)
    os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
    os.environ.pop("MLFLOW_TRACKING_URI", None)  # a throwaway SQLite store in a temp home, always
    sizes = QUICK if args.quick else FULL
    bars = args.only or ["simulator", "ecommerce", "shuffled"]

    from benchmarks.model_quality_doc import P_FLOOR
    from benchmarks.run import machine

    results: dict[str, Any] = {
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "quick": args.quick,
        "only": bars,
        "threads": args.threads,
        "commit": _commit(),
        "machine": machine(),
        "versions": _versions(),
        "sizes": asdict(sizes),
        "constants": {  # every fixed number the document's prose uses
            "ratio_bar": RATIO_BAR,
            "ece_bar": ECE_BAR,
            "ecommerce_test_share_max": TEST_SHARE_MAX,
            "simulator_test_share": SIMULATOR_TEST_SHARE,
            "confidence": 0.95,
            "ece_bins": 10,
            "chance_auc": 0.5,
            "p_floor": P_FLOOR,
        },
    }
    begin = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="nps-model-quality-") as tmp:
        work = Path(tmp)
        if "simulator" in bars:
            results["simulator"] = bar_simulator(work, sizes, 1.0, args.threads)
            results["simulator_no_patience"] = bar_simulator(work, sizes, 0.0, args.threads)
            if sizes.second_seed is not None:
                results["simulator_second_seed"] = bar_simulator(
                    work, sizes, 1.0, args.threads, seed=sizes.second_seed
                )
        if "ecommerce" in bars:
            results["ecommerce"] = bar_ecommerce(work, sizes, args.threads)
        if "shuffled" in bars:
            results["shuffled"] = bar_shuffled(work, sizes, args.threads)
    results["elapsed_s"] = round(time.perf_counter() - begin, 1)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(_plain(results), indent=1, default=str) + "\n")
    from benchmarks.model_quality_doc import write_document

    # the document is rendered from the JSON as written, so it cannot mix runs
    text = write_document(args.json, args.doc) if args.doc else None
    if text is None:
        from benchmarks.model_quality_doc import render_document

        text = render_document(json.loads(args.json.read_text()))
    print(text, flush=True)
    print(f"figures: {args.json} ({results['elapsed_s']} s)", file=sys.stderr)
    return 0


def _commit() -> str:
    """The commit measured, with "+changes" when the working tree differs from it."""
    import subprocess

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], capture_output=True, text=True, check=False)
        return done.stdout.strip()

    head = git("rev-parse", "--short=10", "HEAD") or "unknown"
    return head + ("+changes" if git("status", "--porcelain", "--untracked-files=no") else "")


def _versions() -> dict[str, str]:
    import lightgbm
    import mlflow
    import sklearn

    return {
        "lightgbm": lightgbm.__version__,
        "scikit-learn": sklearn.__version__,
        "mlflow": mlflow.__version__,
    }


if __name__ == "__main__":
    raise SystemExit(main())
