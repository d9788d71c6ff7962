"""`nps-risk train`: from a data DIR (or your own feature table) to a registered challenger.

I/O lives here: reading the data, writing the report, logging to the registry. The fitting
and evaluation are in ``train`` and stay pure.
"""

from __future__ import annotations

import json
import logging
import platform
import tempfile
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from features.catalog import FeatureInfo, FeatureSpec, feature_catalog
from features.database import is_database_url, shown_url
from features.dataset import (
    QUARANTINE_FILE,
    DataSource,
    LoadReport,
    load_dataset,
    quarantine_beside,
    write_quarantine,
)
from features.pipeline import agent_history
from features.rows import as_of_timestamp, build_training_rows, learn_spec
from features.treatment import (
    TreatedRows,
    apply_treated_policy,
    empty_contacts,
    mark_treated,
    treated_summary,
)
from features.validation import FALSE_WORDS, TRUE_WORDS
from nps_core.config import Settings
from nps_core.errors import NpsRiskError, SchemaError
from training.metrics import auc_with_ci
from training.model import LgbmParams
from training.registry import LoggedModel, log_and_register
from training.split import Split, split_by_group, split_by_time
from training.train import TrainResult, fit_and_evaluate

TRUE_LABELS = TRUE_WORDS | {"detractor"}
FALSE_LABELS = FALSE_WORDS | {"not detractor", "non-detractor"}
NUMERIC_SHARE = 0.95  # a column is read as numbers when this share of its values parse
LOG = logging.getLogger(__name__)


@dataclass
class TrainOutcome:
    result: TrainResult
    logged: LoggedModel
    report: Path
    metrics_json: dict[str, Any]
    load: LoadReport | None = None  # what a data DIR's load read, kept and quarantined
    quarantine_file: Path | None = None


def _profile(frame: pd.DataFrame, features: list[str]) -> dict[str, Any]:
    """What the model was trained on, for the run's record (and for drift checks later)."""
    numeric = frame[features].select_dtypes("number")
    return {
        "rows": len(frame),
        "missing_share": {c: float(frame[c].isna().mean()) for c in features},
        "numeric": {
            c: {
                "mean": float(numeric[c].mean()),
                "p50": float(numeric[c].median()),
                "p99": float(numeric[c].quantile(0.99)),
            }
            for c in numeric.columns
            if numeric[c].notna().any()
        },
    }


def _features_table(features: list[str], catalog: dict[str, FeatureInfo]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "feature": f,
                "kind": catalog[f].kind if f in catalog else "?",
                "monotone": catalog[f].monotone if f in catalog else 0,
                "description": catalog[f].description if f in catalog else f,
            }
            for f in features
        ]
    )


def _finish(
    settings: Settings,
    result: TrainResult,
    *,
    source: str,
    spec: FeatureSpec | None,
    catalog: dict[str, FeatureInfo],
    params: LgbmParams,
    rows: pd.DataFrame,
    history: pd.DataFrame | None,
    k: int,
    load: LoadReport | None = None,
    quarantine: pd.DataFrame | None = None,
    coerced: dict[str, dict[str, int]] | None = None,
    treatment: dict[str, int | str] | None = None,
) -> TrainOutcome:
    from training.plots import write_plots
    from training.report import write_report

    trained_at = datetime.now(UTC).isoformat(timespec="seconds")
    split = result.split.describe()
    test_metrics = result.metrics["lightgbm"]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        plots = write_plots(result, folder / "plots")
        context = {"data": source, **split, "trained at": trained_at, "outreach capacity k": k}
        if result.truth_auc is not None:
            context["true-probability ROC-AUC (simulator)"] = f"{result.truth_auc:.3f}"
        report = write_report(
            result,
            plots,
            folder / "report",
            title="nps-risk: Detractor model evaluation",
            context=context,
        )
        tables = folder / "tables"
        tables.mkdir()
        _features_table(result.features, catalog).to_csv(tables / "features.csv", index=False)
        result.drivers.to_csv(tables / "drivers.csv", index=False)
        result.deciles.to_csv(tables / "lift_by_decile.csv", index=False)
        result.calibration.to_csv(tables / "calibration.csv", index=False)
        for group, frame in result.by_group.items():
            frame.to_csv(tables / f"metrics_by_{group}.csv", index=False)
        (tables / "data_profile.json").write_text(
            json.dumps(_profile(rows, result.features), indent=1)
        )
        if coerced:
            pd.DataFrame([{"column": c, **counts} for c, counts in coerced.items()]).to_csv(
                tables / "coerced_to_numbers.csv", index=False
            )
        metrics: dict[str, float] = {}
        for model_name, values in result.metrics.items():
            metrics.update({f"test_{model_name}_{k_}": v for k_, v in values.items()})
        metrics.update({f"test_{k_}": v for k_, v in test_metrics.items()})
        metrics.update({f"valid_{k_}": v for k_, v in result.valid_metrics.items()})
        for baseline, test in result.comparisons.items():
            metrics.update(
                {
                    f"test_lightgbm_minus_{baseline}_roc_auc_{k_}": v
                    for k_, v in test.items()
                    if k_ in ("difference", "low", "high", "p_value")
                }
            )
        if coerced:
            metrics["coerced_values_missing"] = float(
                sum(c["became_missing"] for c in coerced.values())
            )
        if result.truth_auc is not None:
            metrics["test_truth_roc_auc"] = result.truth_auc
            metrics["test_auc_ratio_to_truth"] = test_metrics["roc_auc"] / result.truth_auc
        artifacts = {"plots": folder / "plots", "report": folder / "report", "tables": tables}
        if treatment:
            metrics.update({k_: float(v) for k_, v in treatment.items() if isinstance(v, int)})
        if load is not None and quarantine is not None:
            metrics.update(load.metrics())
            artifacts["data"] = _write_load(folder / "data", load, quarantine)
        meta = {
            "trained_at": trained_at,
            "source": source,
            "split": split,
            "spec": spec.as_dict() if spec else None,
            "test_metrics": {k_: v for k_, v in test_metrics.items() if np.isfinite(v)},
            "baselines": {
                m: {k_: v for k_, v in result.metrics[m].items() if np.isfinite(v)}
                for m in ("logistic", "one_rule")
            },
        }
        logged = log_and_register(
            settings,
            result.model,
            params={
                **asdict(params),
                **{f"split_{k_}": v for k_, v in split.items()},
                "source": source,
                "features": len(result.features),
                "k": k,
                **({"treated_rows": treatment["treated_rows"]} if treatment else {}),
            },
            metrics=metrics,
            meta=meta,
            artifacts=artifacts,
            holdout=result.test_rows,
            history=history,
            tags={"source": source, "python": platform.python_version()},
        )
        summary = {
            "test": {k_: v for k_, v in test_metrics.items()},
            "baselines": {m: result.metrics[m] for m in ("logistic", "one_rule")},
            "split": split,
            "lightgbm_minus_baseline_roc_auc": result.comparisons,
            "coerced_to_numbers": coerced or {},
            "model_name": logged.name,
            "model_version": logged.version,
            "run_id": logged.run_id,
            "truth_roc_auc": result.truth_auc,
            **({"treatment": treatment} if treatment else {}),
            **({"load": load.to_dict()} if load is not None else {}),
        }
        report_copy = settings.outputs_path / "reports" / f"model-v{logged.version}.html"
        report_copy.parent.mkdir(parents=True, exist_ok=True)
        report_copy.write_bytes(report.read_bytes())
        quarantine_file = None
        if "data" in artifacts:
            quarantine_file = quarantine_beside(report_copy)
            quarantine_file.write_bytes((artifacts["data"] / QUARANTINE_FILE).read_bytes())
    return TrainOutcome(
        result=result,
        logged=logged,
        report=report_copy,
        metrics_json=summary,
        load=load,
        quarantine_file=quarantine_file,
    )


def _write_load(folder: Path, load: LoadReport, quarantine: pd.DataFrame) -> Path:
    """The run's data/ artifacts: the load counts by table and reason, the quarantined rows."""
    folder.mkdir()
    (folder / "load_report.json").write_text(json.dumps(load.to_dict(), indent=1))
    write_quarantine(folder / QUARANTINE_FILE, quarantine)
    return folder


def train_from_data(
    settings: Settings,
    data_dir: DataSource,
    *,
    test_from: str | None = None,
    k: int | None = None,
    params: LgbmParams | None = None,
    contacts: pd.DataFrame | None = None,
    treated: TreatedRows | None = None,
) -> TrainOutcome:
    """Point-in-time training rows from a data DIR (or database URL), a time split, fit, report, register.

    ``contacts`` is our outreach history (customer_id, contacted_at, recorded_at), handed
    in by the caller (training never reads the store): answers given after a contact are
    treated, and ``treated`` (default: the ``train_treated`` setting, "exclude") decides
    whether they train the model. The choice and the counts are logged with the run."""
    dataset = load_dataset(data_dir, workers=settings.threads)
    spec = learn_spec(dataset.interactions, dataset.scale)
    rows = build_training_rows(
        dataset.interactions,
        dataset.surveys,
        dataset.customers,
        spec,
        lag_s=settings.feature_lag_s,
        workers=settings.threads,
    )
    if rows.empty:
        raise NpsRiskError(f"{data_dir} yields no training rows: no survey answers on the scale")
    policy: TreatedRows = treated or settings.train_treated
    rows = mark_treated(
        rows,
        empty_contacts() if contacts is None else contacts,
        lookback_days=settings.treated_lookback_days,
    )
    treatment = treated_summary(rows, policy)
    rows = apply_treated_policy(rows, policy)
    if rows.empty:
        raise NpsRiskError(
            f"{data_dir}: every answer came after our outreach; nothing untreated to learn "
            "from (train with --treated include to use them)"
        )
    catalog = feature_catalog(spec)
    features = list(catalog)
    categorical = [f for f in features if catalog[f].kind == "categorical"]
    y = rows["is_detractor"].to_numpy(dtype=np.int64)
    split = split_by_time(
        rows["responded_at"], test_from=None if test_from is None else as_of_timestamp(test_from)
    )
    params = params or LgbmParams(random_state=settings.random_state)
    k = k or settings.daily_capacity
    result = fit_and_evaluate(
        rows,
        y,
        split,
        features,
        categorical,
        catalog=catalog,
        params=params,
        k=k,
        day_column="as_of",
        keep_columns=("response_id", "customer_id", "responded_at"),
    )
    truth_path = Path(data_dir) / "truth.parquet"
    if not is_database_url(data_dir) and truth_path.is_file():
        truth = pd.read_parquet(truth_path).set_index("response_id")["p_detractor"]
        p_true = truth.reindex(result.test_rows["response_id"]).to_numpy()
        known = ~np.isnan(p_true)
        result.truth_auc = auc_with_ci(result.test_rows["label"].to_numpy()[known], p_true[known])[
            0
        ]
    history = agent_history(dataset.interactions, dataset.surveys, dataset.customers, spec)
    return _finish(
        settings,
        result,
        source=shown_url(data_dir) if is_database_url(data_dir) else str(data_dir),
        spec=spec,
        catalog=catalog,
        params=params,
        rows=rows,
        history=history,
        k=k,
        load=dataset.report,
        quarantine=dataset.quarantine,
        treatment=treatment,
    )


def parse_labels(values: pd.Series, column: str, source: str) -> np.ndarray:
    """Yes/No, True/False, 1/0 (any case) -> 1/0; anything else is a clear error."""
    text = values.astype("str").str.strip().str.lower()
    bad = text[~text.isin(TRUE_LABELS | FALSE_LABELS)]
    if not bad.empty:
        row = int(bad.index[0]) + 1
        raise SchemaError(
            f"row {row}: label value {values.loc[bad.index[0]]!r} is not one of yes/no, true/false, 1/0",
            source=source,
            column=column,
        )
    return text.isin(TRUE_LABELS).to_numpy(dtype=np.int64)


def train_from_table(
    settings: Settings,
    table: Path,
    *,
    label: str,
    id_column: str,
    time_column: str | None = None,
    k: int | None = None,
    params: LgbmParams | None = None,
) -> TrainOutcome:
    """Bring your own feature table: every other column is a feature (text -> categorical)."""
    from features.readers import read_raw

    raw = read_raw(table)
    for needed in [label, id_column, *([time_column] if time_column else [])]:
        if needed not in raw.columns:
            raise SchemaError(
                f"no such column (columns: {', '.join(map(str, raw.columns))})",
                source=str(table),
                column=needed,
            )
    y = parse_labels(raw[label], label, str(table))
    frame = raw.drop(columns=[label])
    features = [c for c in frame.columns if c not in {id_column, time_column}]
    frame, categorical, coerced = coerce_columns(frame, features)
    for column, counts in coerced.items():
        if counts["became_missing"]:
            LOG.warning(
                "%s: column %r read as numbers; %d of its %d values were not numbers and "
                "became missing",
                table,
                column,
                counts["became_missing"],
                counts["values"],
            )
    if time_column:
        times = pd.to_datetime(frame[time_column], utc=True, errors="coerce")
        if times.isna().any():
            row = int(times[times.isna()].index[0]) + 1
            raise SchemaError(
                f"row {row}: value {frame[time_column].iloc[row - 1]!r} is not a timestamp",
                source=str(table),
                column=time_column,
            )
        frame[time_column] = times
        split: Split = split_by_time(times)
    else:
        split = split_by_group(frame[id_column], seed=settings.random_state)
    frame = (
        frame.rename(columns={id_column: "customer_id"}) if id_column != "customer_id" else frame
    )
    params = params or LgbmParams(random_state=settings.random_state, use_monotone=False)
    k = k or settings.daily_capacity
    keep = ("customer_id", *((time_column,) if time_column else ()))
    result = fit_and_evaluate(
        frame,
        y,
        split,
        features,
        categorical,
        params=params,
        k=k,
        day_column=time_column,  # the row's time is its as-of time
        group_columns=(),
        keep_columns=keep,
    )
    return _finish(
        settings,
        result,
        source=str(table),
        spec=None,
        catalog={},
        params=params,
        rows=frame,
        history=None,
        k=k,
        coerced=coerced,
    )


def coerce_columns(
    frame: pd.DataFrame, features: list[str]
) -> tuple[pd.DataFrame, list[str], dict[str, dict[str, int]]]:
    """Each feature column read as numbers when at least NUMERIC_SHARE of its non-empty
    values parse, else as text (a categorical). Returns the new frame, the categorical
    columns and, per column read as numbers, how many non-empty values it had and how many
    of them were not numbers and became missing (nothing is lost silently)."""
    columns: dict[str, pd.Series] = {}
    categorical: list[str] = []
    coerced: dict[str, dict[str, int]] = {}
    for c in features:
        given = frame[c].replace("", None)
        as_number = pd.to_numeric(given, errors="coerce")
        present = int(given.notna().sum())
        if as_number.notna().sum() >= NUMERIC_SHARE * present:
            columns[c] = as_number.astype("float64")
            coerced[c] = {
                "values": present,
                "became_missing": present - int(as_number.notna().sum()),
            }
        else:
            categorical.append(c)
            columns[c] = frame[c].astype("str").replace("", None)
    return frame.assign(**columns), categorical, coerced


def _json_safe(value: Any) -> Any:
    """NaN and infinities are not JSON: they become null."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, float | np.floating):
        return float(value) if np.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def write_metrics(path: Path, summary: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_json_safe(summary), indent=1, default=str))


__all__ = [
    "TrainOutcome",
    "coerce_columns",
    "parse_labels",
    "train_from_data",
    "train_from_table",
    "write_metrics",
]
