"""Evaluation plots of a ``TrainResult`` as PNG files: ROC, precision-recall, calibration,
cumulative gains and top drivers.

Drawn on ``matplotlib.figure.Figure`` objects (the Agg canvas), never through pyplot, so no
global figure state is created and nothing needs a display.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Callable
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from sklearn.metrics import precision_recall_curve, roc_curve

from training.metrics import calibration_table
from training.train import MODEL_NAMES, TrainResult

DPI = 110
LABELS = {"lightgbm": "LightGBM", "logistic": "Logistic regression", "one_rule": "One rule"}
COLOURS = {"lightgbm": "#1f5fa8", "logistic": "#e07b17", "one_rule": "#6b8e23"}
REFERENCE = "#9a9a9a"
CAPACITY = "#b22222"
TOP_DRIVERS = 15


def capacity_k(metrics: dict[str, float]) -> int | None:
    """The daily outreach capacity k the metrics were computed at."""
    k = metrics.get("k")
    return None if k is None or math.isnan(k) else int(k)


def write_plots(result: TrainResult, folder: Path) -> dict[str, Path]:
    """Write the five evaluation PNGs into ``folder``; returns plot name -> path."""
    folder.mkdir(parents=True, exist_ok=True)
    y = np.asarray(result.test_rows["label"], dtype=np.int64)
    drawers: dict[str, Callable[[], Figure]] = {
        "roc": lambda: _roc(result, y),
        "pr": lambda: _pr(result, y),
        "calibration": lambda: _calibration(result, y),
        "gains": lambda: _gains(result, y),
        "drivers": lambda: _drivers(result),
    }
    paths = {}
    for name, draw in drawers.items():
        path = folder / f"{name}.png"
        draw().savefig(path, dpi=DPI, format="png")
        paths[name] = path
    return paths


# --- the plots -----------------------------------------------------------------------------
def _models(result: TrainResult) -> list[str]:
    return [m for m in MODEL_NAMES if m in result.predictions]


def _roc(result: TrainResult, y: np.ndarray) -> Figure:
    fig, ax = _figure("ROC curve on the test period")
    ax.plot([0, 1], [0, 1], ls="--", lw=1, color=REFERENCE, label="chance (AUC 0.5)")
    if _one_class(ax, y):
        return fig
    for name in _models(result):
        fpr, tpr, _ = roc_curve(y, result.predictions[name])
        m = result.metrics[name]
        label = (
            f"{LABELS[name]}: AUC {_f(m['roc_auc'], 3)} "
            f"[{_f(m['roc_auc_low'], 3)}, {_f(m['roc_auc_high'], 3)}]"
        )
        ax.plot(fpr, tpr, lw=2, color=COLOURS[name], label=label)
    ax.set(xlim=(0, 1), ylim=(0, 1.01), xlabel="false positive rate", ylabel="true positive rate")
    ax.legend(loc="lower right", title="ROC-AUC [95% interval]", fontsize=9, title_fontsize=9)
    return fig


def _pr(result: TrainResult, y: np.ndarray) -> Figure:
    fig, ax = _figure("Precision-recall on the test period")
    if _one_class(ax, y):
        return fig
    base = float(y.mean())
    ax.axhline(base, ls="--", lw=1, color=REFERENCE, label=f"base rate {base:.3f}")
    for name in _models(result):
        precision, recall, _ = precision_recall_curve(y, result.predictions[name])
        ax.plot(
            recall,
            precision,
            lw=2,
            drawstyle="steps-post",
            color=COLOURS[name],
            label=f"{LABELS[name]}: PR-AUC {_f(result.metrics[name]['pr_auc'], 3)}",
        )
    ax.set(xlim=(0, 1), ylim=(0, 1.02), xlabel="recall (share of Detractors found)")
    ax.set_ylabel("precision (share of flagged who are Detractors)")
    ax.legend(loc="upper right", fontsize=9)
    return fig


def _calibration(result: TrainResult, y: np.ndarray) -> Figure:
    fig = Figure(figsize=(7.2, 6.4), layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    top.set_title("Calibration: predicted vs observed Detractor rate", fontsize=12)
    tables = {name: calibration_table(y, result.predictions[name]) for name in _models(result)}
    highest = max(
        [float(np.max(p)) for p in result.predictions.values() if len(p)]
        + [float(t["observed_rate"].max()) for t in tables.values() if len(t)]
        + [0.05]
    )
    lim = min(1.0, highest * 1.08 + 0.01)
    top.plot([0, lim], [0, lim], ls="--", lw=1, color=REFERENCE, label="perfectly calibrated")
    for name, table in tables.items():
        top.plot(
            table["mean_predicted"],
            table["observed_rate"],
            marker="o",
            ms=5,
            lw=1.8,
            color=COLOURS[name],
            label=f"{LABELS[name]}: ECE {_f(result.metrics[name]['ece'], 3)}",
        )
    top.set(xlim=(0, lim), ylim=(0, lim), ylabel="observed Detractor rate")
    top.legend(loc="upper left", fontsize=9, title="10 equal-count bins", title_fontsize=9)
    top.grid(alpha=0.3)
    p = result.predictions.get("lightgbm", np.array([]))
    bottom.hist(p, bins=np.linspace(0, lim, 41), color=COLOURS["lightgbm"], alpha=0.8)
    bottom.set(xlabel="predicted probability of Detractor", ylabel="customers")
    bottom.set_title("LightGBM predictions on the test period", fontsize=9, loc="left")
    bottom.grid(alpha=0.3)
    return fig


def _gains(result: TrainResult, y: np.ndarray) -> Figure:
    fig, ax = _figure("Cumulative gains: whom to call first")
    n, positives = len(y), int(y.sum())
    ax.plot([0, 1], [0, 1], ls="--", lw=1, color=REFERENCE, label="random order")
    if n == 0 or positives == 0:
        _note(ax, "no Detractors in the test period: gains undefined")
        return fig
    base = positives / n
    ax.plot([0, base, 1], [0, 1, 1], ls=":", lw=1.5, color="#333333", label="perfect order")
    share = np.arange(0, n + 1) / n
    curves = {}
    for name in _models(result):
        order = np.argsort(-result.predictions[name], kind="stable")
        curves[name] = np.concatenate([[0.0], np.cumsum(y[order]) / positives])
        ax.plot(share, curves[name], lw=2, color=COLOURS[name], label=LABELS[name])
    m = result.metrics.get("lightgbm", {})
    k = capacity_k(m)
    calls = m.get("calls", 0.0)
    if k and calls and "lightgbm" in curves:
        # the capacity is daily: the line marks the period's calls as a share of its rows;
        # the figure is the per-day recall (the curve itself ranks the whole period)
        x = calls / n
        label = (
            f"daily capacity k = {k}: {calls:,.0f} calls over {m['list_days']:.0f} days "
            f"({100 * x:.1f}% of test rows);\nper list day LightGBM reaches "
            f"{100 * m['recall_at_k']:.0f}% of that day's Detractors"
        )
        ax.axvline(x, color=CAPACITY, lw=1.2, ls="-.", label=label)
    ax.set(xlim=(0, 1), ylim=(0, 1.02))
    ax.set(xlabel="share of customers contacted (riskiest first)")
    ax.set_ylabel("share of Detractors reached")
    ax.legend(loc="lower right", fontsize=9)
    return fig


def _drivers(result: TrainResult) -> Figure:
    top = result.drivers.head(TOP_DRIVERS).iloc[::-1]  # largest at the top of the chart
    labels = [textwrap.fill(str(d), 52) for d in top["description"]]
    lines = sum(label.count("\n") + 1 for label in labels)
    height = max(3.0, 1.1 + 0.2 * lines + 0.14 * len(top))
    fig, ax = _figure("Top drivers of the LightGBM model", size=(9.5, height))
    if top.empty:
        _note(ax, "no drivers computed")
        return fig
    values = top["mean_abs_shap"].to_numpy(dtype=np.float64)
    positions = np.arange(len(top))
    ax.barh(positions, values, color=COLOURS["lightgbm"], height=0.72)
    ax.set_yticks(positions, labels, fontsize=9)
    for pos, value, feature in zip(positions, values, top["feature"], strict=True):
        ax.text(value, float(pos), f" {value:.3f}", va="bottom", fontsize=8)
        ax.text(value, float(pos), f" {feature}", va="top", fontsize=7, color="#666666")
    ax.set(xlim=(0, float(values.max()) * 1.35 if values.max() > 0 else 1))
    ax.set(ylim=(-0.6, len(top) - 0.4))
    ax.set_xlabel("mean |SHAP| on the test period (log-odds); feature name under each value")
    ax.grid(axis="y", visible=False)
    return fig


# --- helpers -------------------------------------------------------------------------------
def _figure(title: str, size: tuple[float, float] = (7.2, 5.6)) -> tuple[Figure, Axes]:
    fig = Figure(figsize=size, layout="constrained")
    ax = fig.subplots()
    ax.set_title(title, fontsize=12)
    ax.grid(alpha=0.3)
    return fig, ax


def _one_class(ax: Axes, y: np.ndarray) -> bool:
    if len(np.unique(y)) == 2:
        return False
    _note(ax, "the test period holds one class only: curve undefined")
    return True


def _note(ax: Axes, text: str) -> None:
    box = {"boxstyle": "round", "fc": "white", "ec": REFERENCE}
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, fontsize=10, bbox=box)


def _f(value: float, digits: int) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value:.{digits}f}"
