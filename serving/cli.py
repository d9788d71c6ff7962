"""The `nps-risk` command line: parses arguments and hands over to the package that owns the job.

Never a traceback for something the user can fix: a bad argument (checked while parsing,
before any data is read or any store opened), a domain error or an unreadable file ends
as one line on stderr and exit code 2. An unexpected error ends as one line naming the
log that holds its traceback, exit code 1; ``--debug`` (or NPS_RISK_DEBUG=1) shows the
traceback instead.

Every ``--data`` command prints what the load read, kept and quarantined, per table, and
writes the quarantined rows beside its outputs: ``<output>-quarantine.csv`` beside an
output file that shares its folder with other runs' (features' ``--out``, a day's list, a
model's report), plain ``quarantine.csv`` in a folder of one run's outputs (nps, impact).

Over 400 lines: one handler and one block of arguments per command, which read best side
by side; the argument types themselves live in ``serving.arguments``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from nps_core.errors import NpsRiskError
from nps_core.industry import INDUSTRIES
from nps_core.redaction import redact
from serving.arguments import (
    BAD_INPUT,
    OneLineParser,
    data_source,
    database_url,
    fraction,
    input_file,
    iso_date,
    iso_moment,
    log_odds,
    one_line,
    out_dir,
    out_file,
    period,
    port,
    positive_int,
    seed,
    table_file,
    table_out,
)

if TYPE_CHECKING:
    import pandas as pd

    from features.dataset import Dataset, LoadReport

Handler = Callable[[argparse.Namespace], int]
Check = Callable[[argparse.Namespace], str | None]

CRASH = 1  # a bug: one line naming the log with the traceback
INTERRUPTED = 130
DEBUG_ENV = "NPS_RISK_DEBUG"
LOG_FILE = "nps-risk.log"
DATA_HELP = "a DIR written by simulate or import, or a database URL (see load)"


def _cmd_simulate(args: argparse.Namespace) -> int:
    from features.simulate import SimulationConfig, simulate, write_simulation

    config = SimulationConfig(
        customers=args.customers, days=args.days, seed=args.seed, start=args.start.isoformat()
    )
    sim = simulate(config)
    write_simulation(sim, args.out)
    print(
        f"simulated {len(sim.customers):,} customers, {len(sim.interactions):,} interactions, "
        f"{len(sim.surveys):,} survey answers over {args.days} days (seed {args.seed}) -> {args.out}"
    )
    return 0


def _cmd_simulate_loop(args: argparse.Namespace) -> int:
    from nps_core.config import get_settings
    from serving.lists.loop import LoopPlan, loop_settings, run_loop
    from training.workflow import train_from_data

    plan = LoopPlan(
        customers=args.customers,
        days=args.days,
        lists_from=args.lists_from,
        capacity=args.capacity,
        effect_high=args.effect_high,
        effect_low=args.effect_low,
        effect_medium=args.effect_medium,
        reach_share=args.reach_share,
        answer_effect=args.answer_effect,
        seed=args.seed,
        start=args.start,
        control_share=args.control_share,
    )
    settings = loop_settings(get_settings(), args.out)
    report = run_loop(
        settings,
        plan,
        args.out,
        train=lambda s, data: train_from_data(s, data, k=plan.capacity),
        progress=not args.quiet,
    )
    print(report.summary())
    print(
        f"impact on it: NPS_RISK_DATABASE_URL=sqlite:///{args.out.resolve() / 'store.db'} "
        f"nps-risk impact --data {args.out} --from {plan.lists_from} --to LAST_LIST_DATE"
    )
    return 0


def _cmd_import(args: argparse.Namespace) -> int:
    from features.importer import import_export

    report = import_export(args.source, args.mapping, args.out)
    print(report.summary())
    return 0


def _load(data: Path | str, quarantine_file: Path) -> Dataset:
    """Load a data DIR (or database), write its quarantine, print what was read, kept and set aside."""
    from features.dataset import load_dataset, write_quarantine
    from nps_core.config import get_settings

    dataset = load_dataset(data, workers=get_settings().threads)
    write_quarantine(quarantine_file, dataset.quarantine)
    _print_load(dataset.report, quarantine_file)
    return dataset


def _print_load(report: LoadReport | None, quarantine_file: Path | None) -> None:
    if report is not None:
        print(report.summary(quarantine_file), flush=True)


def _cmd_features(args: argparse.Namespace) -> int:
    from features.dataset import quarantine_beside
    from features.rows import as_of_timestamp, build_training_rows, learn_spec, snapshot_as_of
    from nps_core.config import get_settings

    threads = get_settings().threads
    dataset = _load(args.data, quarantine_beside(args.out))
    spec = learn_spec(dataset.interactions, dataset.scale)
    if args.as_of:
        as_of = as_of_timestamp(args.as_of)
        frame = snapshot_as_of(
            dataset.interactions, dataset.surveys, dataset.customers, as_of, spec, workers=threads
        )
        what = f"snapshot of {len(frame):,} active customers as of {as_of.isoformat()}"
    else:
        frame = build_training_rows(
            dataset.interactions,
            dataset.surveys,
            dataset.customers,
            spec,
            lag_s=get_settings().feature_lag_s,
            workers=threads,
        )
        what = f"{len(frame):,} training rows (one per survey answer)"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if args.out.suffix == ".csv":
        frame.to_csv(args.out, index=False)
    else:
        frame.to_parquet(args.out, index=False)
    print(f"{what}, {frame.shape[1]} columns -> {args.out}")
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    from nps_core.config import get_settings
    from training.workflow import train_from_data, train_from_table, write_metrics

    settings = get_settings()
    if args.table:
        outcome = train_from_table(
            settings,
            args.table,
            label=args.label,
            id_column=args.id,
            time_column=args.time,
            k=args.k,
        )
    else:
        outcome = train_from_data(
            settings,
            args.data,
            test_from=args.test_from,
            k=args.k,
            contacts=_contact_history(settings.store_url),
            treated=args.treated,
        )
    _print_load(outcome.load, outcome.quarantine_file)
    m = outcome.metrics_json
    if "treatment" in m:
        t = m["treatment"]
        print(
            f"answers after our own outreach: {t['rows_treated']:,} of {t['rows_answered']:,} "
            f"({'left out: the model learns untreated risk' if t['treated_rows'] == 'exclude' else 'included'})"
        )
    t, lr, rule = m["test"], m["baselines"]["logistic"], m["baselines"]["one_rule"]
    print(
        f"registered {m['model_name']} version {m['model_version']} as challenger (run {m['run_id']})"
    )
    print(
        f"test period from {m['split']['test_from'] or '(random hold-out)'}: {m['split']['rows_test']:,} answers"
    )
    print(
        f"  LightGBM  ROC-AUC {t['roc_auc']:.3f} [{t['roc_auc_low']:.3f}, {t['roc_auc_high']:.3f}]  PR-AUC {t['pr_auc']:.3f}  Brier {t['brier']:.4f}  ECE {t['ece']:.3f}"
    )
    print(
        f"  logistic  ROC-AUC {lr['roc_auc']:.3f}  PR-AUC {lr['pr_auc']:.3f}  Brier {lr['brier']:.4f}"
    )
    print(
        f"  one rule  ROC-AUC {rule['roc_auc']:.3f}  PR-AUC {rule['pr_auc']:.3f}  Brier {rule['brier']:.4f}"
    )
    if m.get("truth_roc_auc"):
        print(
            f"  simulator's true probabilities ROC-AUC {m['truth_roc_auc']:.3f} (model/truth {t['roc_auc'] / m['truth_roc_auc']:.3f})"
        )
    if t["list_days"]:
        short = (
            f" ({t['short_list_days']:.0f} with fewer answers than k: everyone called)"
            if t["short_list_days"]
            else ""
        )
        print(
            f"  LightGBM  calling k = {t['k']:.0f} a day: precision {t['precision_at_k']:.3f} [{t['precision_at_k_low']:.3f}, {t['precision_at_k_high']:.3f}], recall {t['recall_at_k']:.3f} [{t['recall_at_k_low']:.3f}, {t['recall_at_k_high']:.3f}] per list day, over {t['list_days']:.0f} test days{short}"
        )
    else:
        print("  precision and recall at k: not computed (no time column, so no list day)")
    for column, counts in m["coerced_to_numbers"].items():
        if counts["became_missing"]:
            print(
                f"column {column!r} read as numbers: {counts['became_missing']:,} of its {counts['values']:,} values were not numbers and became missing"
            )
    print(f"report: {outcome.report}")
    if args.metrics_out:
        write_metrics(args.metrics_out, m)
        print(f"metrics -> {args.metrics_out}")
    return 0


def _contact_history(store_url: str) -> pd.DataFrame:
    """Our recorded outreach, from the risk-list store (none if no store was ever written)."""
    from features.treatment import empty_contacts
    from serving.lists.store import open_store, read_contacts

    if (
        store_url.startswith("sqlite:///")
        and not Path(store_url.removeprefix("sqlite:///")).exists()
    ):
        return empty_contacts()
    return read_contacts(open_store(store_url))


def _cmd_promote(args: argparse.Namespace) -> int:
    from nps_core.config import get_settings
    from training.registry import promote

    decision = promote(get_settings(), auc_margin=args.tolerance)
    print(decision.reason)
    for check in decision.checks:
        print(f"  {check.line()}")
    return 0 if decision.promoted or not args.strict else 1


def _cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from nps_core.config import get_settings
    from serving.api.app import create_app

    settings = get_settings()
    if args.data:
        settings = settings.model_copy(update={"data_url": args.data})
    if not settings.key_digests() and not settings.key_digests(admin=True):
        print(
            "warning: no API keys configured (NPS_RISK_API_KEYS): every /v1 request will be refused; see `nps-risk keygen`",
            file=sys.stderr,
        )
    uvicorn.run(
        create_app(settings),
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        access_log=args.access_log,
    )
    return 0


def _cmd_keygen(args: argparse.Namespace) -> int:
    from serving.api.auth import new_key

    key, digest = new_key()
    print(f"key (give to the client, shown once): {key}")
    print(f"digest (configure on the server):     {digest}")
    print(f"e.g. export NPS_RISK_{'ADMIN_' if args.admin else ''}API_KEYS={digest}")
    return 0


def _cmd_load(args: argparse.Namespace) -> int:
    from features.database import shown_url
    from features.dataset import QUARANTINE_FILE
    from features.ingest import load_tables
    from nps_core.config import get_settings

    settings = get_settings()
    dataset = _load(args.data, settings.outputs_path / "load" / QUARANTINE_FILE)
    into = args.into or settings.source_url
    print(f"writing into {shown_url(into)} ({args.mode})", flush=True)
    tables = {
        "interactions": dataset.interactions,
        "surveys": dataset.surveys,
        "customers": dataset.customers,
    }
    print(load_tables(into, tables, dataset.scale, mode=args.mode).summary())
    return 0


def _cmd_score(args: argparse.Namespace) -> int:
    from nps_core.config import get_settings
    from serving.lists.policy import ListPolicy
    from serving.lists.scoring import score_day

    settings = get_settings()
    policy = ListPolicy(
        capacity=args.capacity or settings.daily_capacity,
        control_share=settings.control_share if args.control_share is None else args.control_share,
    )
    report = score_day(settings, args.data, args.as_of, policy=policy, progress=not args.quiet)
    _print_load(report.load, report.files.get("quarantined rows"))
    print(report.summary())
    return 0


def _cmd_impact(args: argparse.Namespace) -> int:
    from features.dataset import QUARANTINE_FILE
    from nps_core.config import get_settings
    from serving.lists.impact import describe, estimate_impact, write_outputs
    from serving.lists.store import open_store

    settings = get_settings()
    out = settings.outputs_path / "impact"
    dataset = _load(args.data, out / QUARANTINE_FILE)
    store = open_store(settings.store_url)
    report = estimate_impact(
        store,
        dataset.surveys,
        dataset.interactions,
        dataset.customers,
        dataset.scale,
        args.date_from,
        args.date_to,
        capacity=args.capacity or settings.daily_capacity,
        window_days=args.window_days,
        bootstrap=args.bootstrap,
        seed=settings.random_state,
    )
    plot = args.json.with_name(f"{args.json.stem}-qini.png") if args.json else out / "qini.png"
    write_outputs(report, args.json, plot)
    print(describe(report))
    if args.json:
        print(f"figures -> {args.json}")
    return 0


def _cmd_nps(args: argparse.Namespace) -> int:
    import json

    from features.dataset import QUARANTINE_FILE
    from nps_core.config import get_settings
    from serving.analytics.nps import describe, nps_report, plot_trend, report_dict

    settings = get_settings()
    out = settings.outputs_path / "nps"
    data = _load(args.data, out / QUARANTINE_FILE)
    report = nps_report(
        data,
        args.by,
        args.freq,
        date_from=args.date_from,
        date_to=args.date_to,
        industry=args.industry or settings.industry,
    )
    print(describe(report))
    for name, frame in report.tables.items():
        frame.to_csv(out / f"nps_by_{name}.csv", index=False)
    plot = plot_trend(report.tables["period"], out / "nps_trend.png", args.freq)
    print(f"trend plot: {plot}; tables in {out}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report_dict(report), indent=1))
        print(f"figures -> {args.json}")
    return 0


def _cmd_themes(args: argparse.Namespace) -> int:
    import json

    from features.dataset import QUARANTINE_FILE
    from nps_core.config import get_settings
    from serving.analytics.taxonomy import load_taxonomy
    from serving.analytics.themes import describe_themes, plot_impact, themes_dict, themes_report

    settings = get_settings()
    out = settings.outputs_path / "themes"
    taxonomy = load_taxonomy(args.taxonomy)
    data = _load(args.data, out / QUARANTINE_FILE)
    report = themes_report(
        data,
        taxonomy,
        freq=args.freq,
        date_from=args.date_from,
        date_to=args.date_to,
        min_count=args.min_count,
        bootstrap=args.bootstrap,
        seed=settings.random_state,
    )
    print(describe_themes(report))
    plot = args.json.with_name(f"{args.json.stem}-impact.png") if args.json else out / "impact.png"
    print(f"impact plot: {plot_impact(report, plot)}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(themes_dict(report), indent=1, ensure_ascii=False))
        print(f"themes and assignments -> {args.json}")
    return 0


def _cmd_drivers(args: argparse.Namespace) -> int:
    import json

    from features.dataset import QUARANTINE_FILE
    from nps_core.config import get_settings
    from serving.analytics.drivers import (
        describe_drivers,
        drivers_dict,
        drivers_report,
        plot_teams,
    )
    from serving.predictor import ServingModel
    from training.registry import CHAMPION, load_model

    settings = get_settings()
    data = _load(args.data, settings.outputs_path / "drivers" / QUARANTINE_FILE)
    try:
        model: ServingModel | None = ServingModel(load_model(settings, CHAMPION))
    except NpsRiskError as exc:  # no champion yet: the plain table still answers
        print(f"no model's view (SHAP): {one_line(str(exc))}")
        model = None
    try:
        report = drivers_report(data, model, args.team)
    except ValueError as exc:  # a team with no answers
        raise NpsRiskError(f"--team: {exc}") from None
    print(describe_drivers(report))
    plot = args.json.with_name(f"{args.json.stem}-teams.png") if args.json else None
    print(
        f"teams plot: {plot_teams(report, plot or settings.outputs_path / 'drivers' / 'teams.png')}"
    )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(drivers_dict(report), indent=1))
        print(f"figures -> {args.json}")
    return 0


def _check_train(args: argparse.Namespace) -> str | None:
    if bool(args.data) == bool(args.table):
        return "give either --data DIR or --table FILE" + (" (not both)" if args.data else "")
    if args.table and not (args.label and args.id):
        return "--table needs --label COLUMN and --id COLUMN"
    if args.data:
        given = [flag for flag in ("label", "id", "time") if getattr(args, flag)]
        if given:
            return f"--{given[0]} applies to --table only, not to --data"
    elif args.test_from:
        return "--test-from applies to --data only (with --table, --time decides the split)"
    elif args.treated:
        return "--treated applies to --data only (a feature table carries no outreach history)"
    return None


def _check_dates(args: argparse.Namespace) -> str | None:
    if args.date_from and args.date_to and args.date_to < args.date_from:
        return f"--to {args.date_to.isoformat()!r} is before --from {args.date_from.isoformat()!r}"
    return None


def _check_simulate_loop(args: argparse.Namespace) -> str | None:
    from datetime import timedelta

    end = args.start + timedelta(days=args.days)
    if not args.start < args.lists_from < end:
        return (
            f"--lists-from {args.lists_from.isoformat()!r} must fall after --start "
            f"{args.start.isoformat()!r} and before the simulation ends ({end.isoformat()})"
        )
    return None


def _answer_window(p: argparse.ArgumentParser) -> None:
    """The trend's period and the days of answers counted (checked by _check_dates)."""
    p.add_argument(
        "--freq", type=period, default="M", help="period: M (month, default), W (week), Q (quarter)"
    )
    p.add_argument("--from", dest="date_from", type=iso_date, help="first answer day counted")
    p.add_argument("--to", dest="date_to", type=iso_date, help="last answer day counted")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="nps-risk",
        description="Predict which customers are about to become NPS Detractors, and why.",
    )
    common = OneLineParser(add_help=False)
    common.add_argument(
        "--debug",
        action="store_true",
        help=f"show the traceback of an unexpected error (or set {DEBUG_ENV}=1)",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(
        name: str, handler: Handler, about: str, check: Check | None = None
    ) -> OneLineParser:
        p = sub.add_parser(name, help=about, parents=[common])
        p.set_defaults(handler=handler, check=check)
        return p

    p = command(
        "simulate", _cmd_simulate, "write simulated canonical tables and the true probabilities"
    )
    p.add_argument("--customers", type=positive_int, default=2000)
    p.add_argument("--days", type=positive_int, default=180)
    p.add_argument("--seed", type=seed, default=0)
    p.add_argument("--start", type=iso_date, default="2026-01-01", help="first simulated day (UTC)")
    p.add_argument("--out", type=out_dir, required=True)

    p = command(
        "simulate-loop",
        _cmd_simulate_loop,
        "run the product day by day on simulated customers with a known outreach effect",
        _check_simulate_loop,
    )
    p.add_argument("--customers", type=positive_int, required=True)
    p.add_argument("--days", type=positive_int, required=True, help="simulated days in all")
    p.add_argument("--start", type=iso_date, default="2026-01-01", help="first simulated day (UTC)")
    p.add_argument(
        "--lists-from",
        type=iso_date,
        required=True,
        help="first daily list; the champion is trained on the history before it",
    )
    p.add_argument("--capacity", type=positive_int, required=True, help="calls a day")
    p.add_argument(
        "--effect-high",
        type=log_odds,
        required=True,
        help="change of a reached high-band customer's Detractor log-odds (negative helps)",
    )
    p.add_argument("--effect-low", type=log_odds, required=True, help="the same, low band")
    p.add_argument("--effect-medium", type=log_odds, help="the same, medium band (default: midway)")
    p.add_argument(
        "--reach-share",
        type=fraction(0.0, 1.0 + 1e-9, "a share in [0, 1]"),
        default=0.6,
        help="share of the day's calls that reach the customer (default 0.6)",
    )
    p.add_argument(
        "--answer-effect",
        type=log_odds,
        default=0.0,
        help="change of a reached customer's log-odds of answering a survey (default 0)",
    )
    p.add_argument(
        "--control-share",
        type=fraction(0.0, 1.0, "a share in [0, 1)"),
        default=0.10,
        help="share held out as a control group (default 0.10)",
    )
    p.add_argument("--seed", type=seed, default=0)
    p.add_argument("--out", type=out_dir, required=True)
    p.add_argument("--quiet", action="store_true", help="no progress bar")

    p = command("import", _cmd_import, "turn a helpdesk export into canonical tables + quarantine")
    p.add_argument("source", type=table_file)
    p.add_argument("--mapping", type=input_file, required=True, help="TOML column mapping")
    p.add_argument("--out", type=out_dir, required=True)

    p = command(
        "features", _cmd_features, "training rows (one per answer), or a snapshot with --as-of"
    )
    p.add_argument("--data", type=data_source, required=True, help=DATA_HELP)
    p.add_argument("--out", type=table_out, required=True, help=".parquet or .csv")
    p.add_argument(
        "--as-of", type=iso_moment, help="snapshot time; a bare DATE means 00:00 UTC of that day"
    )

    p = command(
        "train",
        _cmd_train,
        "train LightGBM and baselines, report, register a challenger",
        _check_train,
    )
    p.add_argument("--data", type=data_source, help=DATA_HELP)
    p.add_argument(
        "--test-from",
        type=iso_moment,
        help="start of the test period (default: the newest 20%% of answers)",
    )
    p.add_argument("--table", type=table_file, help="bring your own feature table (CSV or Parquet)")
    p.add_argument("--label", help="label column of --table (yes/no, true/false, 1/0)")
    p.add_argument("--id", help="id column of --table")
    p.add_argument("--time", help="time column of --table (without it: a hold-out split by --id)")
    p.add_argument(
        "--k", type=positive_int, help="daily outreach capacity for precision/recall at k"
    )
    p.add_argument("--metrics-out", type=out_file, help="write the test metrics as JSON")
    p.add_argument(
        "--treated",
        choices=["exclude", "include"],
        help="answers given after our own outreach: left out, so the model learns untreated "
        "risk, or included (default NPS_RISK_TRAIN_TREATED, exclude)",
    )

    p = command("promote", _cmd_promote, "challenger -> champion, if it passes the gate")
    p.add_argument(
        "--tolerance",
        type=fraction(0.0, 1.0, "a ROC-AUC margin in [0, 1)"),
        help="ROC-AUC the challenger may trail the champion by, at the 95%% lower bound of the "
        "paired difference (default: NPS_RISK_PROMOTION_AUC_MARGIN, 0.01)",
    )
    p.add_argument("--strict", action="store_true", help="exit 1 when nothing is promoted")

    p = command("serve", _cmd_serve, "the HTTP API (POST /v1/predict, OpenAPI page at /docs)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=port, default=8000)
    p.add_argument(
        "--log-level",
        default="info",
        choices=["critical", "error", "warning", "info", "debug", "trace"],
    )
    p.add_argument("--access-log", action="store_true", help="log every request")
    p.add_argument(
        "--data",
        type=database_url,
        help="database source the live routes read and events write (or NPS_RISK_DATA_URL)",
    )

    p = command("load", _cmd_load, "fill a database source from a DIR (or another database)")
    p.add_argument("--data", type=data_source, required=True, help=DATA_HELP)
    p.add_argument(
        "--into",
        type=database_url,
        help="SQLAlchemy URL (default NPS_RISK_DATA_URL, else sqlite:///data/source.db)",
    )
    p.add_argument(
        "--mode",
        choices=["replace", "upsert"],
        default="replace",
        help="replace: the tables become the DIR's; upsert: insert or update rows by key",
    )

    p = command(
        "score", _cmd_score, "the daily risk list: close the loop, then predicted Detractors"
    )
    p.add_argument("--data", type=data_source, required=True, help=DATA_HELP)
    p.add_argument(
        "--as-of",
        type=iso_date,
        help="list date (default today); features as of 00:00 UTC that day",
    )
    p.add_argument(
        "--capacity",
        type=positive_int,
        help="calls the team can make today (default NPS_RISK_DAILY_CAPACITY)",
    )
    p.add_argument(
        "--control-share",
        type=fraction(0.0, 1.0, "a share in [0, 1)"),
        help="share held out as a control group (default 0.10)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")

    p = command(
        "impact",
        _cmd_impact,
        "did outreach help? called vs control customers by risk band, with intervals",
        _check_dates,
    )
    p.add_argument(
        "--data",
        type=data_source,
        required=True,
        help="the DIR (or database URL) holding the later survey answers",
    )
    p.add_argument("--from", dest="date_from", type=iso_date, required=True, help="first list date")
    p.add_argument("--to", dest="date_to", type=iso_date, required=True, help="last list date")
    p.add_argument(
        "--window-days",
        type=positive_int,
        default=60,
        help="answers counted this long after the list",
    )
    p.add_argument(
        "--capacity",
        type=positive_int,
        help="calls a day, for the uplift at capacity (default NPS_RISK_DAILY_CAPACITY)",
    )
    p.add_argument(
        "--bootstrap",
        type=positive_int,
        default=200,
        help="bootstrap resamples for the answer-weighted effect's interval",
    )
    p.add_argument(
        "--json", type=out_file, help="write every figure as JSON (the Qini plot goes beside it)"
    )

    p = command(
        "nps",
        _cmd_nps,
        "NPS with intervals by channel, team, segment and month; trend plot",
        _check_dates,
    )
    p.add_argument("--data", type=data_source, required=True, help=DATA_HELP)
    p.add_argument(
        "--by",
        nargs="+",
        default=["channel", "team", "segment"],
        choices=["channel", "team", "segment", "region", "plan"],
    )
    _answer_window(p)
    p.add_argument(
        "--industry",
        choices=sorted(INDUSTRIES),
        help="compare with the industry's typical range (default NPS_RISK_INDUSTRY)",
    )
    p.add_argument("--json", type=out_file, help="write every figure as JSON (as GET /v1/nps)")

    p = command(
        "themes",
        _cmd_themes,
        "themes of survey comments and their NPS impact (taxonomy + proposed topics)",
        _check_dates,
    )
    p.add_argument("--data", type=data_source, required=True, help=DATA_HELP)
    p.add_argument(
        "--json", type=out_file, help="write every theme and each comment's themes as JSON"
    )
    _answer_window(p)
    p.add_argument(
        "--min-count",
        type=positive_int,
        default=30,
        help="themes with fewer comments are flagged, not ranked (default 30)",
    )
    p.add_argument(
        "--bootstrap",
        type=positive_int,
        default=200,
        help="bootstrap resamples for each impact's interval (default 200)",
    )
    p.add_argument(
        "--taxonomy",
        type=input_file,
        help="a taxonomy TOML of your own (default: the shipped support taxonomy)",
    )

    p = command(
        "drivers",
        _cmd_drivers,
        "which support behaviours go with Detractors, overall and per team, for coaching",
    )
    p.add_argument("--data", type=data_source, required=True, help=DATA_HELP)
    p.add_argument("--team", help="one team's figures against the rest")
    p.add_argument("--json", type=out_file, help="write every figure as JSON")

    p = command("keygen", _cmd_keygen, "a new API key and the digest the server stores")
    p.add_argument("--admin", action="store_true", help="print the admin variable name")
    return parser


# --- running a command: every way out is one line, unless debugging ---------------------


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help, or a bad argument already answered in one line
        return exc.code if isinstance(exc.code, int) else BAD_INPUT
    prog = f"nps-risk {args.command}"
    check: Check | None = args.check
    problem = check(args) if check else None
    if problem:
        print(f"{prog}: {problem}", file=sys.stderr)
        return BAD_INPUT
    handler: Handler = args.handler
    try:
        return handler(args)
    except (NpsRiskError, OSError) as exc:  # OSError: a file we cannot read or write
        print(f"{prog}: error: {one_line(str(exc))}", file=sys.stderr)
        return BAD_INPUT
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return INTERRUPTED
    except Exception as exc:
        if args.debug or os.environ.get(DEBUG_ENV, "").lower() in ("1", "true", "yes"):
            raise
        settings = _settings_problem(exc)
        if settings:
            print(f"{prog}: error: {one_line(settings)}", file=sys.stderr)
            return BAD_INPUT
        log = _write_crash_log(sys.argv[1:] if argv is None else list(argv))
        where = f"the traceback is in {log}" if log else "no log could be written"
        print(
            f"{prog}: unexpected error ({type(exc).__name__}: {one_line(str(exc))}); {where}; "
            f"rerun with --debug to see it here",
            file=sys.stderr,
        )
        return CRASH


def _settings_problem(exc: Exception) -> str | None:
    """A bad NPS_RISK_* variable or config file, as one line; None for anything else."""
    import tomllib

    from pydantic import ValidationError

    if isinstance(exc, tomllib.TOMLDecodeError):
        return (
            f"the NPS_RISK_CONFIG file {os.environ.get('NPS_RISK_CONFIG')} is not valid TOML: {exc}"
        )
    if not isinstance(exc, ValidationError) or exc.title != "Settings":
        return None
    first = exc.errors()[0]
    name = ".".join(str(part) for part in first["loc"])
    return (
        f"setting {name} = {first.get('input')!r}: {first['msg']} "
        f"(set by NPS_RISK_{name.upper()} or the NPS_RISK_CONFIG file)"
    )


def _write_crash_log(argv: list[str]) -> Path | None:
    """Append the current traceback to outputs/logs/nps-risk.log (else the temp folder's)."""
    import tempfile
    import traceback
    from datetime import UTC

    entry = redact(
        f"--- {datetime.now(UTC).isoformat(timespec='seconds')} nps-risk {' '.join(argv)}\n"
        f"{traceback.format_exc()}\n"
    )
    for folder in (_outputs_logs, lambda: Path(tempfile.gettempdir())):
        try:
            path = folder() / LOG_FILE
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a", encoding="utf-8") as log:
                log.write(entry)
            return path
        except Exception:  # a broken setting or folder: try the next place
            continue
    return None


def _outputs_logs() -> Path:
    from nps_core.config import get_settings

    return get_settings().outputs_path / "logs"


if __name__ == "__main__":
    raise SystemExit(main())
