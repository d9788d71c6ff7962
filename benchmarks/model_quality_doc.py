"""docs/model-quality.md, rendered whole from the model-quality benchmark's JSON.

    python -m benchmarks.model_quality_doc [JSON] [DOC]   # defaults: .bench/model_quality.json, stdout

Every number in the document, prose included, is formatted from a value of that one JSON
(the renderer formats, it never computes), so the document cannot mix runs or carry a
figure typed in by hand. ``figures_not_in`` checks exactly that, and ``write_document``
refuses to write a document that fails it.
"""

from __future__ import annotations

import json
import math
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

SIM_KEYS = ("simulator", "simulator_no_patience", "simulator_second_seed")
# a number standing alone: not inside a word, a date's later parts or a version's tail
NUMBER = re.compile(r"(?<![\w.,:+\-−/=])([+\-−]?\d[\d,]*(?:\.\d+)*)(%?)(?![\w])")
# numbers that label, not measure: "Bar 1", "Bar 2" and list items ("1. ") at a line start
LABELS = re.compile(r"(?:\bbar \d\b)|(?:^\s*\d+\. )", re.MULTILINE | re.IGNORECASE)


# --- formatting: values in, text out (no arithmetic on figures) ----------------------------
def _f(value: Any, digits: int = 3, sign: bool = False) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    text = f"{float(value):+.{digits}f}" if sign else f"{float(value):.{digits}f}"
    return text.replace("-", "−")


def _pct(value: Any, digits: int = 0) -> str:
    return "n/a" if value is None else f"{100 * float(value):.{digits}f}%"


def _int(value: Any) -> str:
    return "n/a" if value is None else f"{round(float(value)):,}"


def _ci(row: dict[str, Any], key: str, low: str, high: str, digits: int = 3) -> str:
    return f"{_f(row[key], digits)} [{_f(row[low], digits)}, {_f(row[high], digits)}]"


def _auc(row: dict[str, Any]) -> str:
    low, high = ("roc_auc_low", "roc_auc_high") if "roc_auc_low" in row else ("low", "high")
    return _ci(row, "roc_auc", low, high)


def _diff(d: dict[str, Any], digits: int = 4) -> str:
    return f"{_f(d['difference'], digits, True)} [{_f(d['low'], digits, True)}, {_f(d['high'], digits, True)}]"


P_FLOOR = 0.001  # smaller p-values are shown as "p < 0.001" (the JSON's constants hold it)


def _p(value: Any) -> str:
    if value is None:
        return "p n/a"
    return f"p < {P_FLOOR}" if value < P_FLOOR else f"p = {_f(value, 3)}"


# --- the document ---------------------------------------------------------------------------
def render_document(results: dict[str, Any]) -> str:
    """The whole of docs/model-quality.md from the benchmark's JSON."""
    sims = [results[k] for k in SIM_KEYS if k in results]
    parts = [
        _header(results),
        _verdict(results, sims),
        _reproduce(results),
        _bar1(results, sims) if sims else "",
        _bar2(results["ecommerce"]) if "ecommerce" in results else "",
        _bar3(results["shuffled"]) if "shuffled" in results else "",
        _team_prose(results, sims),
        _caveats(results, sims),
        _follow_ups(results),
    ]
    return "\n".join(p for p in parts if p).rstrip() + "\n"


def _header(r: dict[str, Any]) -> str:
    m, v = r["machine"], r["versions"]
    mode = "quick" if r["quick"] else "full"
    command = "python -m benchmarks.model_quality" + (" --quick" if r["quick"] else "")
    lines = [
        "# Model quality: the three bars, measured",
        "",
        f"Generated from one run of `{command}` ({mode} mode), started {r['started']}, "
        f"{r['elapsed_s']} s wall, on commit `{r['commit']}`. Every figure below, the prose "
        "included, is rendered from that run's JSON (kept beside this file as "
        "`docs/model-quality.json`) by `benchmarks/model_quality_doc.py`; nothing here is "
        "typed in by hand, and a test checks that this file is exactly that rendering.",
    ]
    if r["quick"]:
        lines += [
            "",
            f"**Quick mode:** {_int(r['sizes']['customers'])} simulated customers (the full "
            f"run uses more) and {_int(r['sizes']['bootstrap'])} bootstrap resamples: a smoke "
            "test of the pipeline, with wide intervals; not the full measurement.",
        ]
    lines += [
        "",
        f"**Machine:** {m['cpus']} CPUs ({m['cpu_model']}), {m['ram_gib']} GiB RAM, shared with "
        f"other engineers (load average {m['load_average_at_start'][0]} when the run started). "
        f"{m['platform']}, Python {m['python']}, pandas {m['pandas']}, numpy {m['numpy']}, "
        f"LightGBM {v['lightgbm']}, scikit-learn {v['scikit-learn']}, MLflow {v['mlflow']}. "
        f"LightGBM ran with `num_threads={r['threads']}`.",
        "",
    ]
    return "\n".join(lines)


def _met(flag: bool) -> str:
    return "met" if flag else "**not met**"


def _sim_label(s: dict[str, Any]) -> str:
    return f"patience_sd={s['config']['patience_sd']:g}, seed {s['config']['seed']}"


def _verdict(r: dict[str, Any], sims: list[dict[str, Any]]) -> str:
    c = r["constants"]
    rows = ["## Verdict", "", "| bar | verdict | the figures |", "|---|---|---|"]
    if sims:
        ratios = "; ".join(
            f"{_f(s['ratio'])} [{_f(s['ratio_low'])}, {_f(s['ratio_high'])}] ({_sim_label(s)})"
            for s in sims
        )
        rows.append(
            f"| Bar 1a. Simulator: model ROC-AUC ≥ {c['ratio_bar']} × the truth's, same test "
            f"rows | "
            + " / ".join(_met(s["bar"]["ratio_at_least_0.97"]) for s in sims)
            + f" | {ratios} |"
        )
        eces = "; ".join(f"{_f(s['model']['ece'], 4)} ({_sim_label(s)})" for s in sims)
        noise = "; ".join(
            f"{_f(s['ece_noise_at_this_n']['median'], 4)} (95th pct "
            f"{_f(s['ece_noise_at_this_n']['p95'], 4)})"
            for s in sims
        )
        rows.append(
            f"| Bar 1b. Simulator: calibration error (ECE) ≤ {c['ece_bar']} | "
            + " / ".join(_met(s["bar"]["ece_at_most_0.02"]) for s in sims)
            + f" | ECE {eces}; a perfectly calibrated model shows {noise} at these n |"
        )
    if "ecommerce" in r:
        e = r["ecommerce"]
        d = e["ours_minus_reference"]
        if e["bar"]["ahead_significantly_(interval_above_0)"]:
            word = "**met**: ahead beyond noise"
        elif e["bar"]["ours_ahead"]:
            word = "**not shown**: ahead, but not distinguishable from the reference"
        else:
            word = "**not met**: not ahead"
        rows.append(
            f"| Bar 2. CSAT file: beat a plain LightGBM on the raw columns | {word} | ours "
            f"{_auc(e['ours'])} vs reference {_auc(e['reference'])}; ours − reference "
            f"**{_diff(d)}, {_p(d['p_value'])}** (DeLong, paired, same {_int(d['n'])} rows) |"
        )
    if "shuffled" in r:
        s = r["shuffled"]
        aucs = " / ".join(_f(run["roc_auc"]) for run in s["runs"])
        met = s["bar"]["no_skill_in_every_run"] and s["bar"]["refused_in_every_run"]
        rows.append(
            f"| Bar 3. Shuffled labels: no skill, promotion refused | {_met(met)} | ROC-AUC "
            f"{aucs}; {s['no_skill_count']} of {s['runs_count']} intervals do not clear "
            f"{c['chance_auc']}; `promote` refused {s['refused_count']} of {s['runs_count']} |"
        )
    return "\n".join([*rows, ""])


def _reproduce(r: dict[str, Any]) -> str:
    c, z = r["constants"], r["sizes"]
    lines = [
        "## How to reproduce",
        "",
        "```",
        "MLFLOW_DISABLE_TELEMETRY=true .venv/bin/python -m benchmarks.model_quality --doc docs/model-quality.md",
        "MLFLOW_DISABLE_TELEMETRY=true .venv/bin/python -m benchmarks.model_quality --quick --doc docs/model-quality.md",
        "#   --only simulator|ecommerce|shuffled   one bar;   --threads N   LightGBM threads;   --json FILE",
        ".venv/bin/python -m benchmarks.model_quality_doc .bench/model_quality.json docs/model-quality.md   # re-render only",
        "```",
        "",
        f"This run took {r['elapsed_s']} s. The benchmark works in a temporary folder and gives "
        "every training run its own throwaway MLflow home; the repository's `mlruns/` and "
        "`outputs/` are never touched. The simulator's first bar by hand:",
        "",
        "```",
        "export MLFLOW_DISABLE_TELEMETRY=true NPS_RISK_HOME=$(mktemp -d)",
        f"nps-risk simulate --customers {z['customers']} --days {z['days']} --seed {z['seed']} --out $NPS_RISK_HOME/sim",
        "nps-risk train --data $NPS_RISK_HOME/sim   # prints model/truth",
    ]
    if "ecommerce" in r:
        lines += [
            "nps-risk import ../shared/data/ecommerce_csat.csv --mapping examples/ecommerce_csat.mapping.toml --out $NPS_RISK_HOME/ecommerce",
            f"nps-risk train --data $NPS_RISK_HOME/ecommerce --test-from {r['ecommerce']['data']['test_from'][:10]}",
        ]
    lines += [
        "```",
        "",
        "**Nothing was tuned.** Every model uses the shipped `LgbmParams` defaults. Rows are "
        "split by time into four periods: the booster learns on the oldest, early stopping "
        "picks its rounds on the next, the calibration and the risk bands are fitted on the "
        "one after (rows the early stopping never saw), and the newest period is only scored. "
        f"The simulator's test period is the pipeline's default, the newest "
        f"{_pct(c['simulator_test_share'])} of answers.",
    ]
    if "ecommerce" in r:
        d = r["ecommerce"]["data"]
        lines[-1] += (
            f" The CSAT test period starts on the first answer day from which at most "
            f"{_pct(c['ecommerce_test_share_max'])} of the answers remain ({d['test_from'][:10]}, "
            f"{_pct(d['test_share_of_answers'], 1)}), a date chosen by counting answers, never by "
            "a result. The reference model's settings were fixed before it was scored."
        )
    return "\n".join([*lines, ""])


def _bar1(r: dict[str, Any], sims: list[dict[str, Any]]) -> str:
    c = r["constants"]
    out = [
        f"## Bar 1: simulator (test = newest {_pct(c['simulator_test_share'])} of answers)",
        "",
        "| figure | " + " | ".join(_sim_label(s) for s in sims) + " |",
        "|---|" + "---|" * len(sims),
    ]

    def line(label: str, cell: Callable[[dict[str, Any]], str]) -> None:
        out.append(f"| {label} | " + " | ".join(cell(s) for s in sims) + " |")

    line(
        "answers (train / early stop / calibration / test)",
        lambda s: (
            f"{_int(s['data']['answers'])} ({_int(s['data']['rows_train'])} / "
            f"{_int(s['data']['rows_valid'])} / {_int(s['data']['rows_calib'])} / "
            f"{_int(s['data']['rows_test'])})"
        ),
    )
    line(
        "test Detractor rate / mean predicted",
        lambda s: (
            f"{_f(s['data']['test_detractor_rate'])} / {_f(s['data']['test_mean_predicted'])}"
        ),
    )
    line("model ROC-AUC [95% CI]", lambda s: _auc(s["model"]))
    line("truth ROC-AUC [95% CI], same rows", lambda s: _auc(s["truth"]))
    line("model − truth (DeLong paired)", lambda s: _diff(s["model_minus_truth"], 3))
    line(
        f"**ratio model/truth** [bootstrap 95%] (bar ≥ {c['ratio_bar']})",
        lambda s: f"**{_f(s['ratio'])}** [{_f(s['ratio_low'])}, {_f(s['ratio_high'])}]",
    )
    line(
        "skill ratio (AUC − 0.5)/(truth − 0.5) [95%]",
        lambda s: (
            f"{_f(s['skill_ratio'])} [{_f(s['skill_ratio_low'])}, {_f(s['skill_ratio_high'])}]"
        ),
    )
    line(f"**ECE** model (bar ≤ {c['ece_bar']})", lambda s: f"**{_f(s['model']['ece'], 4)}**")
    line("ECE of the truth itself (noise floor)", lambda s: _f(s["truth"]["ece"], 4))
    line(
        "ECE of a perfect model, median / 95th pct",
        lambda s: (
            f"{_f(s['ece_noise_at_this_n']['median'], 4)} / {_f(s['ece_noise_at_this_n']['p95'], 4)}"
        ),
    )
    line(
        "Brier model / truth",
        lambda s: f"{_f(s['model']['brier'], 4)} / {_f(s['truth']['brier'], 4)}",
    )
    line("PR-AUC model", lambda s: _f(s["model"]["pr_auc"]))
    for name, label in (("logistic", "logistic"), ("one_rule", "one-rule")):
        line(
            f"{label} baseline ROC-AUC [CI], Brier",
            lambda s, n=name: f"{_auc(s['baselines'][n])}, {_f(s['baselines'][n]['brier'], 4)}",
        )
    line(
        "early-stopping rows ROC-AUC / ECE (they chose the rounds)",
        lambda s: f"{_f(s['validation']['roc_auc'])} / {_f(s['validation']['ece'], 4)}",
    )
    line("uncalibrated booster ROC-AUC (diagnostic)", lambda s: _f(s["model_uncalibrated_roc_auc"]))
    line(f"bar: ratio ≥ {c['ratio_bar']}", lambda s: _met(s["bar"]["ratio_at_least_0.97"]))
    line(f"bar: ECE ≤ {c['ece_bar']}", lambda s: _met(s["bar"]["ece_at_most_0.02"]))
    out += [
        "",
        f"Support-team view, {_sim_label(sims[0])} (the model, then the ceiling the true "
        "probabilities give):",
        "",
        _team_table({"model": sims[0]["team"], "true probabilities": sims[0]["team_truth"]}),
        "",
    ]
    return "\n".join(out)


def _bar2(e: dict[str, Any]) -> str:
    d, data = e["ours_minus_reference"], e["data"]
    rows = (
        ("ours (calibrated LightGBM on point-in-time features)", e["ours"]),
        (
            f"reference: plain LightGBM on raw columns ({e['reference']['rounds']} rounds)",
            e["reference"],
        ),
        ("logistic baseline", e["baselines"]["logistic"]),
        ("one-rule baseline", e["baselines"]["one_rule"]),
    )
    r = e["reference_minus_reference_without_item_price"]
    u = e["ours_uncalibrated_minus_reference"]
    candidates = "; ".join(
        f"{k} {_diff(v)} {_p(v['p_value'])}" for k, v in e["candidates_on_validation_weeks"].items()
    )
    out = [
        f"## Bar 2: e-commerce CSAT file (test from {data['test_from'][:10]}, "
        f"{_pct(data['test_share_of_answers'], 1)} of answers)",
        "",
        "| model | ROC-AUC [95% CI] | PR-AUC | Brier | ECE |",
        "|---|---|---|---|---|",
        *(
            f"| {label} | {_auc(row)} | {_f(row['pr_auc'])} | {_f(row['brier'], 4)} | {_f(row['ece'], 4)} |"
            for label, row in rows
        ),
        "",
        f"- rows train / early stop / calibration / test: {_int(data['rows_train'])} / "
        f"{_int(data['rows_valid'])} / {_int(data['rows_calib'])} / {_int(data['rows_test'])}; "
        f"test Detractor rate {_f(data['test_detractor_rate'])}",
        f"- **ours − reference (DeLong paired, same {_int(d['n'])} rows): {_diff(d)}, z = "
        f"{_f(d['z'], 2)}, {_p(d['p_value'])}**",
        f"- reference without Item_price: {_auc(e['reference_without_item_price'])}; the column "
        f"is worth {_diff(r)} ({_p(r['p_value'])}) to the reference",
        f"- diagnostic, ours before calibration ({e['calibration_method']}): "
        f"{_f(e['ours_uncalibrated_roc_auc'])}, minus reference {_diff(u)} ({_p(u['p_value'])}); "
        f"distinct test scores {_int(e['distinct_scores_on_test']['uncalibrated'])} before, "
        f"{_int(e['distinct_scores_on_test']['calibrated'])} after calibration",
        f"- test Detractor rate / mean predicted: {_f(data['test_detractor_rate'])} / "
        f"{_f(data['test_mean_predicted'])}; early-stopping rows ROC-AUC / ECE: "
        f"{_f(e['validation']['roc_auc'])} / {_f(e['validation']['ece'], 4)}; ECE of a perfect "
        f"model at this n: median {_f(e['ece_noise_at_this_n']['median'], 4)}, 95th pct "
        f"{_f(e['ece_noise_at_this_n']['p95'], 4)}",
        f"- our features: {e['our_features']}, of which "
        f"{e['our_features_constant_on_training_rows']} are constant on the training rows",
        "- candidate raw signals, each added to the reference, judged on the early-stopping "
        f"weeks only (AUC gain [95% CI], p): {candidates}",
        "- raw columns our features lack (no feature, or a constant one): "
        + (", ".join(e["raw_columns_our_features_lack"]) or "none"),
        "- reference gain shares: "
        + ", ".join(f"{k} {_pct(v, 1)}" for k, v in e["reference_gain_share"].items()),
        "- our top drivers (mean |SHAP|): "
        + ", ".join(f"{x['feature']} {_f(x['mean_abs_shap'])}" for x in e["our_top_drivers"]),
        "",
        _team_table({"ours": e["team"], "reference": e["team_reference"]}),
        "",
    ]
    return "\n".join(out)


def _bar3(s: dict[str, Any]) -> str:
    out = [
        f"## Bar 3: shuffled survey scores ({_int(s['customers'])} customers x {s['days']} days)",
        "",
        "| seed | answers | test rows | ROC-AUC [95% CI] | logistic | truth AUC on shuffled labels | promote |",
        "|---|---|---|---|---|---|---|",
    ]
    for run in s["runs"]:
        out.append(
            f"| {run['seed']} | {_int(run['answers'])} | {_int(run['rows_test'])} | {_auc(run)} | "
            f"{_f(run['logistic_roc_auc'])} | {_f(run['truth_roc_auc_on_shuffled_labels'])} | "
            f"{run['reason']} |"
        )
    return "\n".join([*out, ""])


def _team_table(columns: dict[str, dict[str, Any]]) -> str:
    def ci(key: str) -> Callable[[dict[str, Any]], str]:
        return lambda c: _ci(c, key, f"{key}_low", f"{key}_high")

    rows: list[tuple[str, Callable[[dict[str, Any]], str]]] = [
        ("calls per list day (k)", lambda c: _int(c["k_per_day"])),
        ("answers per test day (median)", lambda c: _int(c["answers_per_day"])),
        (
            "list days averaged (fewer answers than k)",
            lambda c: f"{_int(c['days'])} ({_int(c['short_days'])})",
        ),
        ("precision at k, per list day [95%]", ci("precision_at_k_per_day")),
        ("recall at k, per list day [95%]", ci("recall_at_k_per_day")),
        ("base Detractor rate [95%]", ci("base_rate")),
        ("top decile: Detractor rate [95%]", ci("top_decile_precision")),
        ("top decile: lift", lambda c: _f(c["top_decile_lift"], 2)),
        ("top decile: share of all Detractors", lambda c: _f(c["top_decile_recall"])),
    ]
    lines = ["| | " + " | ".join(columns) + " |", "|---|" + "---|" * len(columns)]
    lines += [
        f"| {label} | " + " | ".join(cell(c) for c in columns.values()) + " |"
        for label, cell in rows
    ]
    return "\n".join(lines)


def _team_sentences(t: dict[str, Any], ceiling: dict[str, Any] | None, what: str) -> str:
    text = (
        f"On {what}, about {_int(t['answers_per_day'])} customers answer a survey on a typical "
        f"test day. Calling the model's {_int(t['k_per_day'])} riskiest of each day's answerers "
        f"(k, the daily capacity; on average {_pct(t['k_share_of_day'])} of a day) reaches "
        f"Detractors **{_pct(t['precision_at_k_per_day'])}** of the time "
        f"[{_pct(t['precision_at_k_per_day_low'])}, {_pct(t['precision_at_k_per_day_high'])}], "
        f"against a base rate of {_pct(t['base_rate'])} ({_f(t['precision_over_base_rate'], 1)}× "
        f"as often), and finds {_pct(t['recall_at_k_per_day'])} of each day's Detractors "
        f"(averages over {_int(t['days'])} list days)."
    )
    if t["short_days"] == t["days"]:
        text += (
            " Every one of those days has fewer answers than k, so the team calls everyone: "
            "these figures say nothing about the ranking (the full run has busier days)."
        )
    if ceiling is not None:
        text += (
            f" Knowing the true probabilities would give {_pct(ceiling['precision_at_k_per_day'])} "
            f"and {_pct(ceiling['recall_at_k_per_day'])}."
        )
    text += (
        f" Over the whole test period, the riskiest tenth is {_pct(t['top_decile_precision'])} "
        f"Detractors (lift {_f(t['top_decile_lift'], 2)}) and holds "
        f"{_pct(t['top_decile_recall'])} of all Detractors."
    )
    if t["precision_at_k_per_day"] < 0.5:
        text += (
            " Put plainly: most calls from the list reach a customer who would not have been a "
            "Detractor; the list is worth working because it beats calling at random, not "
            "because it names certain Detractors."
        )
    return text


def _team_prose(r: dict[str, Any], sims: list[dict[str, Any]]) -> str:
    out = ["## What this means for a support team", ""]
    if sims:
        out += [
            _team_sentences(
                sims[0]["team"], sims[0]["team_truth"], f"the simulator ({_sim_label(sims[0])})"
            ),
            "",
        ]
    if "ecommerce" in r:
        e = r["ecommerce"]
        out += [
            _team_sentences(e["team"], None, "the CSAT file")
            + f" The raw-column reference gets {_pct(e['team_reference']['precision_at_k_per_day'])} "
            f"and {_pct(e['team_reference']['recall_at_k_per_day'])}.",
            "",
        ]
    return "\n".join(out) if len(out) > 2 else ""


def _caveats(r: dict[str, Any], sims: list[dict[str, Any]]) -> str:
    c = r["constants"]
    out = ["## Caveats", ""]
    if "ecommerce" in r:
        e = r["ecommerce"]
        out.append(
            f"- **Small test set on the real data.** {_int(e['data']['rows_test'])} answers with "
            f"{_int(e['data']['test_detractors'])} Detractors give a single-AUC interval of "
            f"±{_f(e['half_widths']['single_auc'])} and a paired-difference interval of "
            f"±{_f(e['half_widths']['paired_difference'])}: smaller differences between two models "
            "cannot be seen on it. The later weeks the data README keeps aside are the place to "
            "confirm any claim of bar 2."
        )
    noise = [(s["data"]["rows_test"], s["ece_noise_at_this_n"]["median"]) for s in sims[:1]] + (
        [(r["ecommerce"]["data"]["rows_test"], r["ecommerce"]["ece_noise_at_this_n"]["median"])]
        if "ecommerce" in r
        else []
    )
    if noise:
        out.append(
            f"- **ECE is noisy at small n.** With {c['ece_bins']} equal-count bins, a perfectly "
            "calibrated model shows a median ECE of "
            + " and ".join(f"{_f(m, 4)} on {_int(n)} rows" for n, m in noise)
            + f"; a bar of {c['ece_bar']} can only be checked where that noise is well below it."
        )
    if sims:
        s = sims[0]
        there, test = _f(s["validation"]["roc_auc"]), _f(s["model"]["roc_auc"])
        if s["validation"]["roc_auc"] > s["model"]["roc_auc"]:
            seen = f"which flatters the model there: ROC-AUC {there} against {test} on test"
        else:
            seen = (
                f"which flatters the model there, yet ROC-AUC is {there} there against {test} "
                "on test, likely because later answers come with longer customer histories"
            )
        out.append(
            "- **The early-stopping rows are not the test.** They chose the number of boosting "
            f"rounds, {seen} ({_sim_label(s)}). The calibration is fitted on the next period, "
            "rows the early stopping never saw, so its error on test is an honest one. Judge "
            "models on the test period only."
        )
    if "simulator_second_seed" in r:
        a, b = r["simulator"], r["simulator_second_seed"]
        out.append(
            "- **Intervals cover test sampling, not training variation.** Training is "
            f"deterministic; a second simulator seed gives a ratio of {_f(b['ratio'])} against "
            f"{_f(a['ratio'])}."
        )
    else:
        out.append(
            "- **Intervals cover test sampling, not training variation.** Training is "
            "deterministic; the full run adds a second simulator seed to show how much the data "
            "and training move the ratio."
        )
    out += [
        "- **Rows are survey answerers, not the daily-list population.** Labels exist only "
        'where someone answered, and answer rates depend on how the ticket went. The "per '
        "list day\" figures rank each day's answerers: they indicate what the risk list does, "
        "they do not measure the list itself.",
        "- **The reference is plain, not tuned.** A tuned raw-column model might score higher; "
        "bar 2 compares against the issue's plain baseline, not the best raw model possible.",
        "",
    ]
    return "\n".join(out)


def _follow_ups(r: dict[str, Any]) -> str:
    out = [
        "## Follow-ups suggested by these measurements",
        "",
        "1. **Numeric passthrough columns** (`features.rows.learn_spec`). Text extras that parse "
        "as numbers (`item_price`) should become numeric `last_<column>` features instead of "
        "being dropped for having too many distinct values.",
        "2. **Handle time without a resolution time.** Compute handle time per contact whether "
        "or not `resolved_at` is known (today it feeds only the resolved-ticket families).",
    ]
    if "ecommerce" in r:
        e = r["ecommerce"]
        out.append(
            "3. **Drop features that are constant on the training rows** "
            f"({e['our_features_constant_on_training_rows']} of {e['our_features']} on the CSAT "
            "file) before fitting, so that column sampling and the drivers' sentences skip empty "
            "families."
        )
    else:
        out.append(
            "3. **Drop features that are constant on the training rows** before fitting, so that "
            "column sampling and the drivers' sentences skip empty families."
        )
    out += [
        "4. **Point-in-time rates for more than the agent.** A smoothed earlier-Detractor rate per "
        "sub-category and per supervisor, and the agent's recent rate and response delay.",
        "5. **Recency-weighted trouble** (exponentially decayed counts beside the fixed windows), "
        "judged on real data since it mirrors the simulator's own formula.",
        "6. `nps-risk simulate --patience-sd X`, with tests for the knob.",
        "",
    ]
    return "\n".join(out)


# --- the check: every figure comes from the JSON --------------------------------------------
def _json_numbers(value: Any) -> Iterator[float]:
    if isinstance(value, dict):
        for v in value.values():
            yield from _json_numbers(v)
    elif isinstance(value, list):
        for v in value:
            yield from _json_numbers(v)
    elif isinstance(value, bool) or value is None:
        return
    elif isinstance(value, int | float):
        yield float(value)


def figures_not_in(markdown: str, results: dict[str, Any]) -> list[str]:
    """The numbers of ``markdown`` that no value of ``results`` explains: each must be a
    JSON number rounded as shown (or, before a "%", a hundredth of one), or appear verbatim
    in the JSON's text (dates, versions, seeds in strings). Labels ("Bar 1", "1. ") aside."""
    text = json.dumps(results)
    numbers = sorted(set(_json_numbers(results)))
    scrubbed = LABELS.sub(" ", markdown)
    missing = []
    for match in NUMBER.finditer(scrubbed):
        token, percent = match.group(1), match.group(2)
        plain = token.replace(",", "").replace("−", "-").lstrip("+")
        verbatim = re.compile(rf"(?<![\d.]){re.escape(plain.lstrip('-'))}(?![\d])")
        if not percent and verbatim.search(text):
            continue
        if plain.count(".") > 1:
            missing.append(token + percent)
            continue
        shown = float(plain)
        digits = len(plain.split(".")[1]) if "." in plain else 0
        tolerance = 0.5 * 10**-digits + 1e-9
        scale = 100.0 if percent else 1.0
        if not any(abs(scale * v - shown) <= tolerance for v in numbers):
            missing.append(token + percent)
    return missing


def write_document(json_path: Path, doc_path: Path | None) -> str:
    """Render the document from ``json_path``; refuse (ValueError) if any figure in it is
    not in the JSON; write it to ``doc_path`` (and the JSON beside it) when given."""
    results = json.loads(Path(json_path).read_text())
    text = render_document(results)
    stray = figures_not_in(text, results)
    if stray:
        raise ValueError(f"figures in the document that the JSON does not hold: {stray[:10]}")
    if doc_path is not None:
        Path(doc_path).write_text(text, encoding="utf-8")
        # the JSON beside the document, so that anyone (and a test) can render it again
        Path(doc_path).with_suffix(".json").write_text(
            json.dumps(results, indent=1) + "\n", encoding="utf-8"
        )
    return text


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    source = Path(args[0]) if args else Path(".bench/model_quality.json")
    target = Path(args[1]) if len(args) > 1 else None
    text = write_document(source, target)
    if target is None:
        print(text, end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
