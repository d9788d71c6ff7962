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
never the repository's ``mlruns/``. Figures are printed and saved as JSON
(``.bench/model_quality.json`` by default).

Over 400 lines: three studies and the writer of docs/model-quality.md sit in one file so
the document always comes from one run.
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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks import log
from benchmarks.paths import ECOMMERCE_CSV, ECOMMERCE_MAPPING

RATIO_BAR = 0.97
ECE_BAR = 0.02
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


def team_figures(y: np.ndarray, p: np.ndarray, days: pd.Series, k: int) -> dict[str, float]:
    """What a support team gets: each test day, call the k riskiest of that day's answerers
    (precision and recall at k, averaged over days), and the riskiest tenth overall."""
    from training.metrics import at_k, lift_by_decile

    frame = pd.DataFrame({"y": y, "p": p, "day": days.to_numpy()})
    precision, recall, share = [], [], []
    for _, day in frame.groupby("day", sort=True):
        if len(day) >= k:
            prec, rec = at_k(day["y"].to_numpy(), day["p"].to_numpy(), k)
            precision.append(prec)
            recall.append(rec)
            share.append(k / len(day))
    deciles = lift_by_decile(y, p)
    return {
        "k_per_day": float(k),
        "days": float(len(precision)),
        "answers_per_day": float(frame.groupby("day").size().median()),
        "k_share_of_day": float(np.mean(share)) if share else math.nan,
        "precision_at_k_per_day": float(np.nanmean(precision)) if precision else math.nan,
        "recall_at_k_per_day": float(np.nanmean(recall)) if recall else math.nan,
        "base_rate": float(np.mean(y)),
        "top_decile_precision": float(deciles["detractor_rate"].iloc[0]),
        "top_decile_lift": float(deciles["lift"].iloc[0]),
        "top_decile_recall": float(
            deciles["detractor_rate"].iloc[0] * deciles["n"].iloc[0] / max(np.sum(y), 1)
        ),
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
    days = test["responded_at"].dt.floor("D")
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
        "team": team_figures(y, p_model, days, settings.daily_capacity),
        "team_truth": team_figures(y, p_truth, days, settings.daily_capacity),
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
    days = test["responded_at"].dt.floor("D")
    figures = {
        "import": {
            name: {"read": t.rows_read, "kept": t.kept} for name, t in report.tables.items()
        },
        "data": {
            **result.split.describe(),
            "test_share_of_answers": test_share,
            "test_detractor_rate": float(y_test.mean()),
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
        "team": team_figures(y_test, p_ours, days, settings.daily_capacity),
        "team_reference": team_figures(y_test, p_ref, days, settings.daily_capacity),
        "reference_gain_share": {k: float(v) for k, v in gain.items()},
        "our_top_drivers": result.drivers.head(12)[["feature", "mean_abs_shap"]].to_dict("records"),
        "candidates_on_validation_weeks": screen,
        "our_features": len(result.features),
        "our_features_constant_on_training_rows": len(result.features) - len(varying),
        "raw_columns_our_features_lack": _lacking(result.features, varying),
    }
    diff = figures["ours_minus_reference"]
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
        "bar": {
            "no_skill_in_every_run": all(r["low"] <= 0.5 for r in runs),
            "refused_in_every_run": not any(r["promoted"] for r in runs),
        },
    }


# --- printing ---------------------------------------------------------------------------


def _ci(row: dict[str, float], key: str = "roc_auc", low: str = "low", high: str = "high") -> str:
    return f"{row[key]:.3f} [{row[low]:.3f}, {row[high]:.3f}]"


def render(results: dict[str, Any]) -> str:
    """The figures as the markdown tables of docs/model-quality.md."""
    out: list[str] = []
    add = out.append
    keys = ("simulator", "simulator_no_patience", "simulator_second_seed")
    sims = [results[k] for k in keys if k in results]
    if sims:
        add("## Bar 1: simulator (test = newest 20% of answers)\n")
        add(
            "| figure | "
            + " | ".join(
                f"patience_sd={s['config']['patience_sd']:g}, seed {s['config']['seed']}"
                for s in sims
            )
            + " |"
        )
        add("|---|" + "---|" * len(sims))

        def line(label: str, cell: Any) -> None:
            add(f"| {label} | " + " | ".join(cell(s) for s in sims) + " |")

        line(
            "answers (train / valid / test)",
            lambda s: (
                f"{s['data']['answers']:,} ({s['data']['rows_train']:,} / {s['data']['rows_valid']:,} / {s['data']['rows_test']:,})"
            ),
        )
        line(
            "test Detractor rate / mean predicted",
            lambda s: (
                f"{s['data']['test_detractor_rate']:.3f} / {s['data']['test_mean_predicted']:.3f}"
            ),
        )
        line(
            "model ROC-AUC [95% CI]",
            lambda s: _ci(s["model"], low="roc_auc_low", high="roc_auc_high"),
        )
        line("truth ROC-AUC [95% CI], same rows", lambda s: _ci(s["truth"]))
        line(
            "model − truth (DeLong paired)",
            lambda s: (
                f"{s['model_minus_truth']['difference']:+.3f} [{s['model_minus_truth']['low']:+.3f}, {s['model_minus_truth']['high']:+.3f}]"
            ),
        )
        line(
            "**ratio model/truth** [bootstrap 95%] (bar ≥ 0.97)",
            lambda s: f"**{s['ratio']:.3f}** [{s['ratio_low']:.3f}, {s['ratio_high']:.3f}]",
        )
        line(
            "skill ratio (AUC−0.5)/(truth−0.5) [95%]",
            lambda s: (
                f"{s['skill_ratio']:.3f} [{s['skill_ratio_low']:.3f}, {s['skill_ratio_high']:.3f}]"
            ),
        )
        line("**ECE** model (bar ≤ 0.02)", lambda s: f"**{s['model']['ece']:.4f}**")
        line("ECE of the truth itself (noise floor)", lambda s: f"{s['truth']['ece']:.4f}")
        line(
            "ECE of a perfect model, median / 95th pct",
            lambda s: (
                f"{s['ece_noise_at_this_n']['median']:.4f} / {s['ece_noise_at_this_n']['p95']:.4f}"
            ),
        )
        line(
            "Brier model / truth",
            lambda s: f"{s['model']['brier']:.4f} / {s['truth']['brier']:.4f}",
        )
        line("PR-AUC model", lambda s: f"{s['model']['pr_auc']:.3f}")
        line(
            "logistic baseline ROC-AUC [CI], Brier",
            lambda s: (
                f"{_ci(s['baselines']['logistic'], low='roc_auc_low', high='roc_auc_high')}, {s['baselines']['logistic']['brier']:.4f}"
            ),
        )
        line(
            "one-rule baseline ROC-AUC [CI], Brier",
            lambda s: (
                f"{_ci(s['baselines']['one_rule'], low='roc_auc_low', high='roc_auc_high')}, {s['baselines']['one_rule']['brier']:.4f}"
            ),
        )
        line(
            "validation ROC-AUC / ECE (optimistic)",
            lambda s: f"{s['validation']['roc_auc']:.3f} / {s['validation']['ece']:.4f}",
        )
        line(
            "uncalibrated booster ROC-AUC (diagnostic)",
            lambda s: f"{s['model_uncalibrated_roc_auc']:.3f}",
        )
        line(
            "bar: ratio ≥ 0.97",
            lambda s: "met" if s["bar"]["ratio_at_least_0.97"] else "**not met**",
        )
        line("bar: ECE ≤ 0.02", lambda s: "met" if s["bar"]["ece_at_most_0.02"] else "**not met**")
        add("")
        add("Support-team view (model, then the truth's ceiling), shipped simulator:\n")
        add(_team_table({"model": sims[0]["team"], "true probabilities": sims[0]["team_truth"]}))
        add("")
    if "ecommerce" in results:
        e = results["ecommerce"]
        d = e["ours_minus_reference"]
        add(
            f"## Bar 2: e-commerce CSAT file (test from {e['data']['test_from'][:10]}, {e['data']['test_share_of_answers']:.1%} of answers)\n"
        )
        add("| model | ROC-AUC [95% CI] | PR-AUC | Brier | ECE |")
        add("|---|---|---|---|---|")
        for label, row in (
            ("ours (calibrated LightGBM on point-in-time features)", e["ours"]),
            (
                f"reference: plain LightGBM on raw columns ({e['reference']['rounds']} rounds)",
                e["reference"],
            ),
            ("logistic baseline", e["baselines"]["logistic"]),
            ("one-rule baseline", e["baselines"]["one_rule"]),
        ):
            add(
                f"| {label} | {_ci(row, low='roc_auc_low', high='roc_auc_high')} | {row['pr_auc']:.3f} | {row['brier']:.4f} | {row['ece']:.4f} |"
            )
        add("")
        add(
            f"rows train / valid / test: {e['data']['rows_train']:,} / {e['data']['rows_valid']:,} / {e['data']['rows_test']:,}; test Detractor rate {e['data']['test_detractor_rate']:.3f}"
        )
        add(
            f"**ours − reference (DeLong paired, same {int(d['n']):,} rows): {d['difference']:+.4f} [{d['low']:+.4f}, {d['high']:+.4f}], z = {d['z']:.2f}, p = {d['p_value']:.3f}**"
        )
        r = e["reference_minus_reference_without_item_price"]
        add(
            f"reference without Item_price: {_ci(e['reference_without_item_price'])}; the column is worth {r['difference']:+.4f} [{r['low']:+.4f}, {r['high']:+.4f}] (p = {r['p_value']:.3f}) to the reference"
        )
        u = e["ours_uncalibrated_minus_reference"]
        add(
            f"diagnostic, ours before calibration ({e['calibration_method']}): {e['ours_uncalibrated_roc_auc']:.3f}, minus reference {u['difference']:+.4f} [{u['low']:+.4f}, {u['high']:+.4f}] (p = {u['p_value']:.3f}); distinct test scores {e['distinct_scores_on_test']['uncalibrated']:,} before, {e['distinct_scores_on_test']['calibrated']:,} after calibration"
        )
        add(
            f"test Detractor rate / mean predicted: {e['data']['test_detractor_rate']:.3f} / {e['data']['test_mean_predicted']:.3f}; validation ROC-AUC / ECE: {e['validation']['roc_auc']:.3f} / {e['validation']['ece']:.4f}; ECE of a perfect model at this n: median {e['ece_noise_at_this_n']['median']:.4f}, 95th pct {e['ece_noise_at_this_n']['p95']:.4f}"
        )
        add(
            f"our features: {e['our_features']}, of which {e['our_features_constant_on_training_rows']} are constant on the training rows"
        )
        add(
            "candidate raw signals, each added to the reference, validation weeks only (AUC gain [95% CI], p): "
            + "; ".join(
                f"{k} {v['difference']:+.4f} [{v['low']:+.4f}, {v['high']:+.4f}] p={v['p_value']:.2f}"
                for k, v in e["candidates_on_validation_weeks"].items()
            )
        )
        add(
            f"raw columns our features lack (no feature, or a constant one): {', '.join(e['raw_columns_our_features_lack']) or 'none'}"
        )
        add(
            "reference gain shares: "
            + ", ".join(f"{k} {v:.1%}" for k, v in e["reference_gain_share"].items())
        )
        add(
            "our top drivers (mean |SHAP|): "
            + ", ".join(f"{r['feature']} {r['mean_abs_shap']:.3f}" for r in e["our_top_drivers"])
        )
        add("")
        add(_team_table({"ours": e["team"], "reference": e["team_reference"]}))
        add("")
    if "shuffled" in results:
        s = results["shuffled"]
        add(f"## Bar 3: shuffled survey scores ({s['customers']:,} customers x {s['days']} days)\n")
        add(
            "| seed | answers | test rows | ROC-AUC [95% CI] | logistic | truth AUC on shuffled labels | promote |"
        )
        add("|---|---|---|---|---|---|---|")
        for r in s["runs"]:
            add(
                f"| {r['seed']} | {r['answers']:,} | {r['rows_test']:,} | {_ci(r)} | {r['logistic_roc_auc']:.3f} | {r['truth_roc_auc_on_shuffled_labels']:.3f} | {r['reason']} |"
            )
        add("")
    return "\n".join(out)


def _team_table(columns: dict[str, dict[str, float]]) -> str:
    rows = [
        ("calls per day (k)", "k_per_day", "{:.0f}"),
        ("answers per test day (median)", "answers_per_day", "{:.0f}"),
        ("days averaged", "days", "{:.0f}"),
        ("precision at k, per day", "precision_at_k_per_day", "{:.3f}"),
        ("recall at k, per day", "recall_at_k_per_day", "{:.3f}"),
        ("base Detractor rate", "base_rate", "{:.3f}"),
        ("top decile: Detractor rate", "top_decile_precision", "{:.3f}"),
        ("top decile: lift", "top_decile_lift", "{:.2f}"),
        ("top decile: share of all Detractors", "top_decile_recall", "{:.3f}"),
    ]
    lines = ["| | " + " | ".join(columns) + " |", "|---|" + "---|" * len(columns)]
    for label, key, fmt in rows:
        lines.append(
            f"| {label} | " + " | ".join(fmt.format(c[key]) for c in columns.values()) + " |"
        )
    return "\n".join(lines)


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
    args = parser.parse_args(argv)
    os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
    os.environ.pop("MLFLOW_TRACKING_URI", None)  # a throwaway SQLite store in a temp home, always
    sizes = QUICK if args.quick else FULL
    bars = args.only or ["simulator", "ecommerce", "shuffled"]

    from benchmarks.run import machine

    results: dict[str, Any] = {
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "quick": args.quick,
        "threads": args.threads,
        "machine": machine(),
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
    print(render(results), flush=True)
    print(f"figures: {args.json} ({results['elapsed_s']} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
