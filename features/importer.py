"""Import a helpdesk export into a DIR of canonical tables, with a mapping and no code.

``import_tables`` is the pure part (export frame + mapping -> validated tables);
``import_export`` reads the files and writes the DIR around it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from features.dataset import (
    QUARANTINE_FILE,
    TABLES,
    describe_tables,
    save_scale,
    write_quarantine,
    write_tables,
)
from features.mapping import ROW_COLUMN, Mapping, apply_mapping, load_mapping, timestamp_adjuster
from features.readers import read_raw
from features.validation import (
    TableReport,
    ValidationResult,
    empty_quarantine,
    empty_table,
    validate_table,
)
from nps_core.contracts import CONTRACTS
from nps_core.scale import ScoreScale

REPORT_FILE = "import_report.json"


@dataclass(frozen=True)
class ImportReport:
    """What an import read, kept and set aside, per table; written as import_report.json."""

    source: str
    mapping: str
    out_dir: str
    scale: ScoreScale
    tables: dict[str, TableReport]
    quarantine_problems: int

    def to_dict(self) -> dict[str, object]:
        return {
            "source": self.source,
            "mapping": self.mapping,
            "out_dir": self.out_dir,
            "scale": self.scale.to_dict(),
            "tables": {name: report.to_dict() for name, report in self.tables.items()},
            "quarantine_problems": self.quarantine_problems,
        }

    def summary(self) -> str:
        """A few lines for the command line."""
        s = self.scale
        lines = [f"imported {self.source} -> {self.out_dir} (mapping {self.mapping})"]
        lines += describe_tables(
            self.tables,
            absent="not in the mapping (empty table written)",
            quarantine_file=Path(self.out_dir) / QUARANTINE_FILE,
        )
        lines.append(
            f"  scale {s.low}-{s.high}: Detractor <= {s.detractor_max}, Promoter >= {s.promoter_min}"
        )
        return "\n".join(lines)


def import_tables(
    raw: pd.DataFrame, mapping: Mapping, *, source: str
) -> dict[str, ValidationResult]:
    """Each table of the mapping, built from the export and validated (pure)."""
    results = {}
    for name, spec in mapping.tables.items():
        mapped = apply_mapping(raw, mapping, name, source=source)
        results[name] = validate_table(
            mapped.drop(columns=ROW_COLUMN),
            CONTRACTS[name],
            source=source,
            scale=mapping.scale,
            timestamp_formats=spec.formats,
            row_numbers=mapped[ROW_COLUMN],
            adjust=timestamp_adjuster(raw, mapping, name),
        )
    return results


def import_export(source: Path, mapping_path: Path, out_dir: Path) -> ImportReport:
    """Read SOURCE with MAPPING, write the canonical tables, quarantine and report to OUT_DIR."""
    source, mapping_path, out_dir = Path(source), Path(mapping_path), Path(out_dir)
    mapping = load_mapping(mapping_path)
    raw = read_raw(source, delimiter=mapping.delimiter, encoding=mapping.encoding)
    results = import_tables(raw, mapping, source=str(source))

    tables = {
        name: results[name].kept if name in results else empty_table(CONTRACTS[name])
        for name in TABLES
    }
    write_tables(out_dir, tables)
    quarantine = pd.concat(
        [empty_quarantine()] + [results[n].quarantine for n in TABLES if n in results],
        ignore_index=True,
    )
    write_quarantine(out_dir / QUARANTINE_FILE, quarantine)
    save_scale(out_dir, mapping.scale)
    report = ImportReport(
        source=str(source),
        mapping=str(mapping_path),
        out_dir=str(out_dir),
        scale=mapping.scale,
        tables={name: results[name].report() for name in TABLES if name in results},
        quarantine_problems=len(quarantine),
    )
    (out_dir / REPORT_FILE).write_text(
        json.dumps(report.to_dict(), indent=2) + "\n", encoding="utf-8"
    )
    return report
