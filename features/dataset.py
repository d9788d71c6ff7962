"""A DIR of canonical tables: the one place that reads and writes them.

A DIR holds ``interactions``, ``surveys`` and (optionally) ``customers`` as Parquet (or
CSV), and a small ``dataset.json`` recording the score scale when it is not NPS 0-10, so
every later command reading the DIR knows, say, that it holds CSAT 1-5 answers.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from features.readers import read_raw
from features.validation import TableReport, empty_quarantine, empty_table, validate_table
from nps_core.contracts import CONTRACTS, REQUIRED_TABLES
from nps_core.errors import ConfigError
from nps_core.scale import NPS_SCALE, SCALE_KEYS, ScoreScale

TABLES = ("interactions", "surveys", "customers")
DATASET_FILE = "dataset.json"
TABLE_SUFFIXES = (".parquet", ".csv")
QUARANTINE_FILE = "quarantine.csv"


@dataclass(frozen=True)
class LoadReport:
    """What load_dataset read: the file behind each table and its row counts."""

    data_dir: str
    files: dict[str, str] = field(default_factory=dict)
    tables: dict[str, TableReport] = field(default_factory=dict)

    def summary(self, quarantine_file: Path | None = None) -> str:
        """The lines every ``--data`` command prints, naming where the quarantine went."""
        lines = [f"loaded {self.data_dir}"]
        lines += describe_tables(self.tables, files=self.files, quarantine_file=quarantine_file)
        return "\n".join(lines)

    def to_dict(self) -> dict[str, object]:
        return {
            "data_dir": self.data_dir,
            "files": dict(self.files),
            "tables": {name: report.to_dict() for name, report in self.tables.items()},
        }

    def metrics(self) -> dict[str, int]:
        """Flat counts per table (``load_rows_read_interactions``, ...), e.g. for MLflow."""
        counts = {}
        for name, report in self.tables.items():
            counts[f"load_rows_read_{name}"] = report.rows_read
            counts[f"load_rows_kept_{name}"] = report.kept
            counts[f"load_rows_quarantined_{name}"] = report.quarantined
            counts[f"load_problems_{name}"] = report.problems
        return counts


def describe_tables(
    tables: Mapping[str, TableReport],
    *,
    files: Mapping[str, str] | None = None,
    absent: str = "no file (empty table)",
    quarantine_file: Path | None = None,
) -> list[str]:
    """Per table: rows read = kept + quarantined, then the rows set aside by reason.

    The one formatter of validation counts, for ``import`` and every ``--data`` command.
    Problems are named beside rows only where they differ (a row can have several).
    """
    lines = []
    for name in TABLES:
        report = tables.get(name)
        if report is None:
            lines.append(f"  {name}: {absent}")
            continue
        problems = (
            f" ({report.problems:,} problems)" if report.problems != report.quarantined else ""
        )
        where = f" ({files[name]})" if files and name in files else ""
        lines.append(
            f"  {name}: {report.rows_read:,} rows read, {report.kept:,} kept, "
            f"{report.quarantined:,} quarantined{problems}{where}"
        )
        for reason, count in sorted(report.reasons.items(), key=lambda kv: (-kv[1], kv[0])):
            lines.append(f"    - {reason} ({count:,} {'row' if count == 1 else 'rows'})")
    quarantined = sum(report.quarantined for report in tables.values())
    if quarantined and quarantine_file is not None:
        lines.append(f"  quarantined rows, one line per problem -> {quarantine_file}")
    elif not quarantined:
        lines.append("  nothing quarantined")
    return lines


@dataclass(frozen=True)
class Dataset:
    """The three canonical tables, after validation, and what was set aside."""

    interactions: pd.DataFrame
    surveys: pd.DataFrame
    customers: pd.DataFrame
    quarantine: pd.DataFrame
    scale: ScoreScale = NPS_SCALE
    report: LoadReport | None = None


def write_tables(out_dir: Path, tables: dict[str, pd.DataFrame]) -> list[Path]:
    """Write each named table as DIR/<name>.parquet; returns the paths written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, frame in tables.items():
        path = out_dir / f"{name}.parquet"
        frame.to_parquet(path, index=False)
        written.append(path)
    return written


def save_scale(out_dir: Path, scale: ScoreScale) -> Path:
    """Record the score scale in DIR/dataset.json (other keys there are kept)."""
    path = Path(out_dir) / DATASET_FILE
    document = _read_dataset_file(path) if path.exists() else {}
    document["scale"] = scale.to_dict()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return path


def read_scale(data_dir: Path) -> ScoreScale:
    """The scale recorded in DIR/dataset.json; NPS 0-10 when there is none (simulator DIRs)."""
    path = Path(data_dir) / DATASET_FILE
    if not path.exists():
        return NPS_SCALE
    scale = _read_dataset_file(path).get("scale")
    if scale is None:
        return NPS_SCALE
    if not isinstance(scale, dict) or sorted(scale) != sorted(SCALE_KEYS):
        raise ConfigError(f"{path}: 'scale' must have exactly the keys {', '.join(SCALE_KEYS)}")
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in scale.values()):
        raise ConfigError(f"{path}: the 'scale' values must be whole numbers, got {scale}")
    try:
        return ScoreScale(**scale)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from exc


DataSource = Path | str  # a DIR, or a database URL (str) holding the same tables


def load_dataset(data_dir: DataSource, *, workers: int = 1) -> Dataset:
    """Read DIR's tables (or a database's, given its URL) and validate each against its
    contract, as an import does.

    Rows that fail (a simulator's deliberately dirty rows, a hand-edited file) go to the
    returned quarantine, never silently away. customers is optional. ``workers`` threads
    parse a large table's columns side by side.
    """
    if isinstance(data_dir, str) and "://" in data_dir:
        return _load_database(data_dir, workers=workers)
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise FileNotFoundError(f"data directory {data_dir} does not exist")
    scale = read_scale(data_dir)
    tables: dict[str, pd.DataFrame] = {}
    quarantines = []
    files: dict[str, str] = {}
    reports: dict[str, TableReport] = {}
    for name in TABLES:
        path = table_path(data_dir, name)
        if path is None:
            tables[name] = empty_table(CONTRACTS[name])
            continue
        result = validate_table(
            read_raw(path), CONTRACTS[name], source=str(path), scale=scale, workers=workers
        )
        tables[name] = result.kept
        quarantines.append(result.quarantine)
        files[name] = str(path)
        reports[name] = result.report()
    quarantine = pd.concat(quarantines, ignore_index=True) if quarantines else empty_quarantine()
    return Dataset(
        interactions=tables["interactions"],
        surveys=tables["surveys"],
        customers=tables["customers"],
        quarantine=quarantine,
        scale=scale,
        report=LoadReport(data_dir=str(data_dir), files=files, tables=reports),
    )


def _load_database(url: str, *, workers: int) -> Dataset:
    from features.database import read_tables

    results, scale, shown = read_tables(url, workers=workers)
    return Dataset(
        interactions=results["interactions"].kept,
        surveys=results["surveys"].kept,
        customers=results["customers"].kept,
        quarantine=pd.concat([r.quarantine for r in results.values()], ignore_index=True),
        scale=scale,
        report=LoadReport(
            data_dir=shown,
            files={name: f"{shown}#{name}" for name in results},
            tables={name: result.report() for name, result in results.items()},
        ),
    )


def table_path(data_dir: Path, name: str) -> Path | None:
    """DIR/<name>.parquet, else DIR/<name>.csv; None for a missing optional table."""
    path = _find_table(Path(data_dir), name)
    if path is None and name in REQUIRED_TABLES:
        raise FileNotFoundError(
            f"data directory {data_dir} has no {name} table: "
            f"expected {Path(data_dir) / f'{name}.parquet'} or {name}.csv"
        )
    return path


def missing_tables(data_dir: Path) -> list[str]:
    """The required tables DIR lacks (cheap: looks for the files, reads nothing)."""
    return [name for name in REQUIRED_TABLES if _find_table(Path(data_dir), name) is None]


def write_quarantine(path: Path, quarantine: pd.DataFrame) -> Path:
    """The quarantined rows as CSV, one line per problem; written even when empty, so an
    older run's file never passes for this one's."""
    path.parent.mkdir(parents=True, exist_ok=True)
    quarantine.to_csv(path, index=False)
    return path


def quarantine_beside(output: Path) -> Path:
    """Where a command writing OUTPUT puts its quarantine: ``<output stem>-quarantine.csv``.

    For outputs that share a folder with other runs' (a day's list, a model's report); a
    folder holding one run's outputs takes plain ``quarantine.csv`` (QUARANTINE_FILE).
    """
    return output.with_name(f"{output.stem}-{QUARANTINE_FILE}")


def _find_table(data_dir: Path, name: str) -> Path | None:
    for suffix in TABLE_SUFFIXES:
        path = data_dir / f"{name}{suffix}"
        if path.exists():
            return path
    return None


def _read_dataset_file(path: Path) -> dict[str, object]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise ConfigError(f"{path} must hold a JSON object")
    return document
