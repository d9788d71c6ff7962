"""One self-contained HTML evaluation report per training run.

The plots are embedded as base64 data URIs, so the single file opens anywhere (a browser,
the MLflow UI's artifact view, an e-mail attachment). The page is drawn by the shared
templates (nps_core.pages, which escape every value); this module only shapes the numbers.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd

from nps_core.pages import count, lift, missing, num, percent, render
from training.plots import LABELS, capacity_k
from training.train import MODEL_NAMES, TrainResult
from training.verdict import verdict

CAPTIONS = {
    "roc": "ROC: how well each model ranks Detractors above everyone else; "
    "the dashed diagonal is a random order.",
    "pr": "Precision-recall: the share of flagged customers who are Detractors, against the "
    "share of Detractors found; the dashed line is the base rate.",
    "calibration": "Calibration: when a model says 30%, about 30% should be Detractors "
    "(points on the diagonal). Beneath: where the LightGBM predictions fall.",
    "gains": "Cumulative gains: calling customers riskiest first, the share of all Detractors "
    "reached; the vertical line is the daily outreach capacity k.",
    "drivers": "Top drivers: mean absolute SHAP contribution of each feature on the test period.",
}
TOP_DRIVERS = 15


def write_report(
    result: TrainResult,
    plots: dict[str, Path],
    folder: Path,
    *,
    title: str,
    context: dict[str, object] | None = None,
) -> Path:
    """Write ``folder/report.html`` and return its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "report.html"
    path.write_text(render_report(result, plots, title=title, context=context), encoding="utf-8")
    return path


def render_report(
    result: TrainResult,
    plots: Mapping[str, Path],
    *,
    title: str,
    context: Mapping[str, object] | None = None,
) -> str:
    """The report as one HTML string (the plots read from disk and embedded)."""
    models = [m for m in MODEL_NAMES if m in result.metrics]
    k = capacity_k(result.metrics.get("lightgbm", {}))
    text, level = verdict(result.metrics, result.comparisons)
    context = result.split.describe() if context is None else context
    days = int(result.metrics.get("lightgbm", {}).get("list_days", 0))
    capacity = (
        f"precision@k and recall@k: on each list day (the day of a row's as-of time), calling "
        f"that day's k = {k} riskiest; means over {days} test days, 95% t interval over days."
        if k and days
        else "precision@k and recall@k need a list day per row (a time column): not computed."
    )
    return render(
        "model_report.html",
        title=title,
        verdict=text,
        level=level,
        run=[(key, _plain(value)) for key, value in context.items()],
        models=[{"name": m, "label": LABELS.get(m, m)} for m in models],
        metrics=_metrics_rows(result, models, k),
        capacity=capacity,
        baselines=result.baseline_notes,
        figures=_figures(plots),
        drivers=result.drivers.head(TOP_DRIVERS).to_dict("records"),
        groups=_groups(result.by_group),
        deciles=_deciles_rows(result.deciles),
        calibration=_calibration_rows(result.calibration),
        validation=[
            [label, _metric_text(result.valid_metrics, key, digits)]
            for label, key, digits, _ in _metric_spec(k)
        ],
        truth=_truth_rows(result),
    )


# --- sections: rows of text for the template --------------------------------------------
def _metrics_rows(result: TrainResult, models: list[str], k: int | None) -> list[dict[str, Any]]:
    rows = []
    for label, key, digits, higher_is_better in _metric_spec(k):
        point = key.removesuffix("_ci")
        values = [result.metrics[m].get(point, math.nan) for m in models]
        rows.append(
            {
                "label": label,
                "cells": [_metric_text(result.metrics[m], key, digits) for m in models],
                "best": _best(values, higher_is_better),
            }
        )
    return rows


def _figures(plots: Mapping[str, Path]) -> list[dict[str, str]]:
    return [
        {
            "name": name,
            "data": base64.b64encode(Path(path).read_bytes()).decode("ascii"),
            "caption": CAPTIONS.get(name, name),
        }
        for name, path in plots.items()
    ]


def _groups(by_group: Mapping[str, pd.DataFrame]) -> list[dict[str, Any]]:
    tables = []
    for group, frame in by_group.items():
        rows, classes = [], []
        for record in frame.to_dict("records"):
            r = {str(key): value for key, value in record.items()}
            k = _row_k(r)
            low = bool(r.get("low_sample", False))
            rows.append(
                [
                    str(r[group]),
                    count(r.get("n", math.nan)),
                    percent(r.get("detractor_rate", math.nan)),
                    _metric_text(r, "roc_auc_ci", 3),
                    num(r.get("pr_auc", math.nan), 3),
                    num(r.get("brier", math.nan), 4),
                    num(r.get("ece", math.nan), 3),
                    "–" if k is None else str(k),
                    num(r.get("precision_at_k", math.nan), 3),
                    num(r.get("recall_at_k", math.nan), 3),
                    lift(r.get("lift_top_decile", math.nan)),
                    "few rows: read with care" if low else "",
                ]
            )
            classes.append("low" if low else "")
        tables.append({"name": group, "rows": rows, "classes": classes})
    return tables


def _deciles_rows(deciles: pd.DataFrame) -> list[list[str]]:
    if deciles.empty:
        return []
    found = deciles["detractor_rate"] * deciles["n"]
    total = float(found.sum())
    reached = found.cumsum() / total if total else pd.Series(math.nan, index=deciles.index)
    return [
        [
            str(int(r["decile"])),
            count(r["n"]),
            percent(r["detractor_rate"]),
            lift(r["lift"]),
            percent(c),
        ]
        for r, c in zip(deciles.to_dict("records"), reached, strict=True)
    ]


def _calibration_rows(calibration: pd.DataFrame) -> list[list[str]]:
    return [
        [
            str(i),
            count(r["n"]),
            num(r["mean_predicted"], 3),
            num(r["observed_rate"], 3),
            f"{r['observed_rate'] - r['mean_predicted']:+.3f}",
        ]
        for i, r in enumerate(calibration.to_dict("records"), start=1)
    ]


def _truth_rows(result: TrainResult) -> list[list[str]] | None:
    if result.truth_auc is None:
        return None
    truth = float(result.truth_auc)
    auc = result.metrics.get("lightgbm", {}).get("roc_auc", math.nan)
    return [
        ["ROC-AUC of the true probabilities", num(truth, 3)],
        ["ROC-AUC of LightGBM", num(auc, 3)],
        ["ratio model / truth", num(auc / truth if truth else math.nan, 3)],
        [
            "share of the achievable skill, (model − 0.5) / (truth − 0.5)",
            num((auc - 0.5) / (truth - 0.5) if truth != 0.5 else math.nan, 3),
        ],
    ]


# --- formatting ----------------------------------------------------------------------------
def _metric_spec(k: int | None) -> list[tuple[str, str, int, bool | None]]:
    """(label, key, decimals, higher is better) of the metric rows, in table order."""
    spec: list[tuple[str, str, int, bool | None]] = [
        ("rows", "n", 0, None),
        ("Detractor rate", "detractor_rate", 1, None),
        ("ROC-AUC [95% interval]", "roc_auc_ci", 3, True),
        ("PR-AUC", "pr_auc", 3, True),
        ("Brier score", "brier", 4, False),
        ("log loss", "log_loss", 3, False),
        ("ECE", "ece", 3, False),
    ]
    if k is not None:
        spec += [
            (f"precision@{k} per list day [95%]", "precision_at_k_ci", 3, True),
            (f"recall@{k} per list day [95%]", "recall_at_k_ci", 3, True),
        ]
    return [*spec, ("lift, top decile", "lift_top_decile", 2, True)]


def _metric_text(metrics: Mapping[str, float], key: str, digits: int) -> str:
    if key == "roc_auc_ci":
        auc, low, high = (
            metrics.get(x, math.nan) for x in ("roc_auc", "roc_auc_low", "roc_auc_high")
        )
        return "n/a" if missing(auc) else f"{num(auc, 3)} [{num(low, 3)}, {num(high, 3)}]"
    if key in ("precision_at_k_ci", "recall_at_k_ci"):
        base = key.removesuffix("_ci")
        point, low, high = (metrics.get(base + x, math.nan) for x in ("", "_low", "_high"))
        return "n/a" if missing(point) else f"{num(point, 3)} [{num(low, 3)}, {num(high, 3)}]"
    value = metrics.get(key, math.nan)
    if key == "n":
        return count(value)
    if key == "detractor_rate":
        return percent(value)
    if key == "lift_top_decile":
        return lift(value)
    return num(value, digits)


def _best(values: list[float], higher_is_better: bool | None) -> int | None:
    finite = [(v, i) for i, v in enumerate(values) if not missing(v)]
    if higher_is_better is None or len(finite) < 2:
        return None
    pick = max if higher_is_better else min
    return pick(finite, key=lambda pair: pair[0])[1]  # ties: the first model


def _row_k(row: Mapping[str, object]) -> int | None:
    """A group's own k (its share of the daily capacity)."""
    k = row.get("k")
    return None if k is None or missing(k) else int(cast(float, k))


def _plain(value: object) -> str:
    if missing(value):
        return "–"
    if isinstance(value, float | np.floating):
        return f"{float(value):.4g}"
    if isinstance(value, Mapping | list | tuple):
        return json.dumps(value, default=str)
    return str(value)
