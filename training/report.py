"""One self-contained HTML evaluation report per training run.

The plots are embedded as base64 data URIs, so the single file opens anywhere (a browser,
the MLflow UI's artifact view, an e-mail attachment). Every piece of text is escaped.
"""

from __future__ import annotations

import base64
import html
import json
import math
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from training.plots import LABELS, capacity_k
from training.train import MODEL_NAMES, TrainResult

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
CSS = """
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#222;
 background:#fafafa;margin:0}
main{max-width:1120px;margin:0 auto;padding:24px 28px 48px;background:#fff}
h1{font-size:1.6em;margin:0 0 12px}
h2{font-size:1.2em;margin:32px 0 8px;padding-bottom:4px;border-bottom:1px solid #ddd}
h3{font-size:1.02em;margin:18px 0 6px}
table{border-collapse:collapse;margin:6px 0 10px;font-size:.92em}
th,td{padding:4px 10px;border-bottom:1px solid #e6e6e6;text-align:right;vertical-align:top}
th{background:#f2f4f7;font-weight:600}
td:first-child,th:first-child{text-align:left}
table.kv td:last-child{text-align:left;font-family:ui-monospace,Menlo,Consolas,monospace}
tr.low td{color:#8a6d3b;background:#fcf8e3}
.best{font-weight:700}
.verdict{padding:10px 14px;border-radius:6px;font-weight:600;margin:8px 0 4px}
.verdict.ok{background:#e8f4ea;border-left:5px solid #2e7d32}
.verdict.warn{background:#fdecea;border-left:5px solid #c62828}
.note{color:#555;font-size:.9em;margin:4px 0}
code{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.92em;color:#444}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(440px,1fr));gap:18px}
figure{margin:0}
figure img{width:100%;height:auto;border:1px solid #eee}
figcaption{color:#555;font-size:.88em;margin-top:4px}
"""


class _Html(str):
    """Markup built here from escaped parts; everything else is escaped on the way out."""


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
    text, level = verdict(result.metrics)
    context = result.split.describe() if context is None else context
    parts = [
        f"<h1>{_esc(title)}</h1>",
        f'<p class="verdict {level}">{_esc(text)}</p>',
        _section("Run", _kv_table(context.items())),
        _section("Test metrics", _metrics_section(result, models, k)),
        _section("Plots", _plots_section(plots)),
        _section("Top drivers", _drivers_table(result.drivers)),
        _section("By group (LightGBM, test period)", _groups_section(result.by_group)),
        _section("Lift by decile (LightGBM, test period)", _deciles_table(result.deciles)),
        _section("Calibration (LightGBM, test period)", _calibration_table(result.calibration)),
        _section("Validation metrics (LightGBM)", _validation_section(result.valid_metrics, k)),
    ]
    if result.truth_auc is not None:
        parts.append(_section("Against the true probabilities", _truth_section(result)))
    return (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_esc(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n"
        + "\n".join(parts)
        + "\n</main>\n</body>\n</html>\n"
    )


def verdict(metrics: Mapping[str, Mapping[str, float]]) -> tuple[str, str]:
    """One line on whether LightGBM has skill and beats its baselines, and "ok" or "warn"."""
    m = metrics.get("lightgbm", {})
    auc, low, high = (m.get(key, math.nan) for key in ("roc_auc", "roc_auc_low", "roc_auc_high"))
    shown = f"ROC-AUC {_num(auc, 3)} [{_num(low, 3)}, {_num(high, 3)}]"
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
    logistic = metrics.get("logistic", {}).get("roc_auc", math.nan)
    if math.isnan(logistic):
        return f"LightGBM {shown}; no logistic baseline to compare with.", "ok"
    diff = auc - logistic
    if abs(diff) < 0.0005:
        return (
            f"LightGBM ties the logistic baseline ({_num(auc, 3)} vs {_num(logistic, 3)} "
            "ROC-AUC): the simpler model does as well.",
            "warn",
        )
    if diff < 0:
        return (
            f"LightGBM does not beat the logistic baseline: ROC-AUC {_num(auc, 3)} vs "
            f"{_num(logistic, 3)} ({diff:+.3f}); the simpler model does better here.",
            "warn",
        )
    text = f"LightGBM beats the logistic baseline by {diff:+.3f} ROC-AUC ({_num(auc, 3)} vs {_num(logistic, 3)})"
    one_rule = metrics.get("one_rule", {}).get("roc_auc", math.nan)
    if not math.isnan(one_rule):
        text += f" and the one rule by {auc - one_rule:+.3f}"
    return text + ".", "ok"


# --- sections ------------------------------------------------------------------------------
def _metrics_section(result: TrainResult, models: list[str], k: int | None) -> str:
    header = [
        "metric",
        *(_Html(f"{_esc(LABELS.get(m, m))}<br><code>{_esc(m)}</code>") for m in models),
    ]
    rows = []
    for label, key, digits, higher_is_better in _metric_spec(k):
        point = "roc_auc" if key == "roc_auc_ci" else key
        values = [result.metrics[m].get(point, math.nan) for m in models]
        best = _best(values, higher_is_better)
        cells: list[object] = [label]
        for i, m in enumerate(models):
            text = _metric_text(result.metrics[m], key, digits)
            cells.append(_Html(f'<span class="best">{_esc(text)}</span>') if i == best else text)
        rows.append(cells)
    notes = [
        f"<code>{_esc(name)}</code>: {_esc(note)}" for name, note in result.baseline_notes.items()
    ]
    capacity = (
        f"precision@k and recall@k: calling the k = {k} riskiest customers of the test period."
        if k
        else "no outreach capacity k in the metrics."
    )
    return (
        _table(header, rows) + f'<p class="note">Best value per row in bold. {_esc(capacity)} '
        "Lift: Detractor rate of the riskiest tenth over the overall rate.</p>"
        + (
            "<h3>Baselines</h3><ul>" + "".join(f"<li>{n}</li>" for n in notes) + "</ul>"
            if notes
            else ""
        )
    )


def _plots_section(plots: Mapping[str, Path]) -> str:
    figures = []
    for name, path in plots.items():
        data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
        caption = CAPTIONS.get(name, name)
        figures.append(
            f'<figure><img src="data:image/png;base64,{data}" alt="{_esc(name)} plot">'
            f"<figcaption>{_esc(caption)}</figcaption></figure>"
        )
    return f'<div class="grid">{"".join(figures)}</div>' if figures else "<p>No plots.</p>"


def _drivers_table(drivers: pd.DataFrame) -> str:
    top = drivers.head(TOP_DRIVERS)
    rows = [
        [
            str(i),
            str(r["description"]),
            _Html(f"<code>{_esc(r['feature'])}</code>"),
            _num(r["mean_abs_shap"], 3),
        ]
        for i, r in enumerate(top.to_dict("records"), start=1)
    ]
    return _table(["#", "driver", "feature", "mean |SHAP|"], rows) + (
        '<p class="note">Mean absolute contribution to the log-odds of being a Detractor; '
        "how much a feature moves the predictions, not in which direction.</p>"
    )


def _groups_section(by_group: Mapping[str, pd.DataFrame]) -> str:
    if not by_group:
        return "<p>No group columns in the test rows.</p>"
    out = []
    for group, frame in by_group.items():
        header = [group, "rows", "Detractor rate", "ROC-AUC [95%]", "PR-AUC", "Brier", "ECE"]
        header += ["k", "precision@k", "recall@k", "lift top decile", ""]
        rows, classes = [], []
        for r in frame.to_dict("records"):
            k = _row_k(r)
            low = bool(r.get("low_sample", False))
            rows.append(
                [
                    str(r[group]),
                    _count(r.get("n", math.nan)),
                    _percent(r.get("detractor_rate", math.nan)),
                    _metric_text(r, "roc_auc_ci", 3),
                    _num(r.get("pr_auc", math.nan), 3),
                    _num(r.get("brier", math.nan), 4),
                    _num(r.get("ece", math.nan), 3),
                    "–" if k is None else str(k),
                    _num(r.get("precision_at_k", math.nan), 3),
                    _num(r.get("recall_at_k", math.nan), 3),
                    _lift(r.get("lift_top_decile", math.nan)),
                    "few rows: read with care" if low else "",
                ]
            )
            classes.append("low" if low else "")
        out.append(f"<h3>By {_esc(group)}</h3>" + _table(header, rows, classes))
    return "".join(out) + (
        '<p class="note">k per group is the capacity scaled to the group\'s share of the test '
        "rows. Highlighted rows have too few rows for the metrics to mean much.</p>"
    )


def _deciles_table(deciles: pd.DataFrame) -> str:
    if deciles.empty:
        return "<p>No deciles.</p>"
    found = deciles["detractor_rate"] * deciles["n"]
    total = float(found.sum())
    reached = found.cumsum() / total if total else pd.Series(math.nan, index=deciles.index)
    rows = [
        [
            str(int(r["decile"])),
            _count(r["n"]),
            _percent(r["detractor_rate"]),
            _lift(r["lift"]),
            _percent(c),
        ]
        for r, c in zip(deciles.to_dict("records"), reached, strict=True)
    ]
    header = ["decile (1 = riskiest)", "rows", "Detractor rate", "lift", "Detractors reached"]
    return _table(header, rows)


def _calibration_table(calibration: pd.DataFrame) -> str:
    if calibration.empty:
        return "<p>No calibration bins.</p>"
    rows = [
        [
            str(i),
            _count(r["n"]),
            _num(r["mean_predicted"], 3),
            _num(r["observed_rate"], 3),
            f"{r['observed_rate'] - r['mean_predicted']:+.3f}",
        ]
        for i, r in enumerate(calibration.to_dict("records"), start=1)
    ]
    header = [
        "bin (low to high)",
        "rows",
        "mean predicted",
        "observed rate",
        "observed − predicted",
    ]
    return _table(header, rows)


def _validation_section(valid: Mapping[str, float], k: int | None) -> str:
    rows = [[label, _metric_text(valid, key, digits)] for label, key, digits, _ in _metric_spec(k)]
    return _table(["metric", "LightGBM (validation)"], rows) + (
        '<p class="note">The validation period chose the number of boosting rounds and fitted '
        "the calibration, so these numbers flatter the model; the test period is the honest "
        "estimate.</p>"
    )


def _truth_section(result: TrainResult) -> str:
    truth = float(result.truth_auc)  # type: ignore[arg-type]
    auc = result.metrics.get("lightgbm", {}).get("roc_auc", math.nan)
    rows = [
        ["ROC-AUC of the true probabilities", _num(truth, 3)],
        ["ROC-AUC of LightGBM", _num(auc, 3)],
        ["ratio model / truth", _num(auc / truth if truth else math.nan, 3)],
        [
            "share of the achievable skill, (model − 0.5) / (truth − 0.5)",
            _num((auc - 0.5) / (truth - 0.5) if truth != 0.5 else math.nan, 3),
        ],
    ]
    return _table(["", "value"], rows) + (
        '<p class="note">The simulator knows each customer\'s true Detractor probability; no '
        "model can be expected to rank better.</p>"
    )


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
            (f"precision@{k}", f"precision_at_{k}", 3, True),
            (f"recall@{k}", f"recall_at_{k}", 3, True),
        ]
    return [*spec, ("lift, top decile", "lift_top_decile", 2, True)]


def _metric_text(metrics: Mapping[str, float], key: str, digits: int) -> str:
    if key == "roc_auc_ci":
        auc, low, high = (
            metrics.get(x, math.nan) for x in ("roc_auc", "roc_auc_low", "roc_auc_high")
        )
        return "n/a" if _missing(auc) else f"{_num(auc, 3)} [{_num(low, 3)}, {_num(high, 3)}]"
    value = metrics.get(key, math.nan)
    if key == "n":
        return _count(value)
    if key == "detractor_rate":
        return _percent(value)
    if key == "lift_top_decile":
        return _lift(value)
    return _num(value, digits)


def _best(values: list[float], higher_is_better: bool | None) -> int | None:
    finite = [(v, i) for i, v in enumerate(values) if not _missing(v)]
    if higher_is_better is None or len(finite) < 2:
        return None
    pick = max if higher_is_better else min
    return pick(finite, key=lambda pair: pair[0])[1]  # ties: the first model


def _row_k(row: Mapping[str, object]) -> int | None:
    """A group's own k (its share of the daily capacity)."""
    k = row.get("k")
    return None if k is None or _missing(k) else int(k)  # type: ignore[arg-type]


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float | np.floating) and math.isnan(value))


def _num(value: object, digits: int) -> str:
    return "n/a" if _missing(value) else f"{float(value):.{digits}f}"  # type: ignore[arg-type]


def _count(value: object) -> str:
    return "n/a" if _missing(value) else f"{int(value):,}"  # type: ignore[call-overload]


def _percent(value: object) -> str:
    return "n/a" if _missing(value) else f"{100 * float(value):.1f}%"  # type: ignore[arg-type]


def _lift(value: object) -> str:
    return "n/a" if _missing(value) else f"{float(value):.2f}×"  # type: ignore[arg-type]


def _plain(value: object) -> str:
    if _missing(value):
        return "–"
    if isinstance(value, float | np.floating):
        return f"{float(value):.4g}"
    if isinstance(value, Mapping | list | tuple):
        return json.dumps(value, default=str)
    return str(value)


def _esc(value: object) -> str:
    return value if isinstance(value, _Html) else html.escape(str(value))


def _section(title: str, body: str) -> str:
    return f"<section>\n<h2>{_esc(title)}</h2>\n{body}\n</section>"


def _kv_table(items: Iterable[tuple[object, object]]) -> str:
    rows = [f"<tr><td>{_esc(key)}</td><td>{_esc(_plain(value))}</td></tr>" for key, value in items]
    return f'<table class="kv">{"".join(rows)}</table>' if rows else "<p>No context given.</p>"


def _table(header: list[object], rows: list[list[object]], classes: list[str] | None = None) -> str:
    head = "".join(f"<th>{_esc(h)}</th>" for h in header)
    body = []
    for i, row in enumerate(rows):
        cls = classes[i] if classes and classes[i] else ""
        attr = f' class="{cls}"' if cls else ""
        body.append(f"<tr{attr}>" + "".join(f"<td>{_esc(c)}</td>" for c in row) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
