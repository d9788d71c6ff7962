"""Column mappings: a TOML file that turns a helpdesk export into the contract tables.

A user brings an export and a mapping, no code. The format (every section optional
except the tables an import needs, ``interactions`` and ``surveys``)::

    name = "my helpdesk"                 # free text, for people
    description = "..."

    [source]                             # how to read the export file
    delimiter = ";"                      # default "," ("\\t" for .tsv)
    encoding = "cp1252"                  # default "utf-8-sig" (plain UTF-8, BOM dropped)

    [scale]                              # the score scale; NPS 0-10 (6 / 9) when absent
    low = 1
    high = 5
    detractor_max = 2                    # <= this is a Detractor
    promoter_min = 4                     # >= this is a Promoter

    [interactions.columns]               # contract column = "source column"
    interaction_id = "Ticket ID"         # one source column may feed several contract
    customer_id = "Requester"            # columns, in one table or in several

    [interactions.timestamps]            # strptime format per timestamp column;
    opened_at = "%d/%m/%Y %H:%M"         # ISO 8601 is expected when a column has none

    [surveys.timestamps.responded_at]    # or a table, for a column holding only a day:
    format = "%d-%b-%y"
    end_of_day = true                    # take the last second (23:59:59) of that day
    not_before = "interactions.first_response_at"
                                         # and never earlier than that column of the same
                                         # export row ("table.column", or a column of this
                                         # table); parsed with that column's format

    [interactions.values.channel]        # replace exact source values (surrounding spaces
    "Web Widget" = "chat"                # ignored) before validation; others pass as they are

    [interactions.multiply]              # numeric factor applied before validation,
    handle_time_s = 60                   # e.g. minutes in the export -> seconds

    [interactions.constants]             # one value for every row, for a column the export
    channel = "email"                    # lacks (a column is mapped or constant, not both)

    [interactions.extra]                 # passthrough: new_name = "source column", kept as
    agent_shift = "Agent Shift"          # a text column beside the contract columns

Every required contract column must be mapped or constant. Unknown sections or keys are
errors (a typo must not silently drop a column); errors name the mapping file and the key.
Times without a zone are read as UTC, as everywhere in the project.

Over 400 lines: the format's parser and its messages (each naming the key and the
value) are one concern, and the format is documented here, beside its parser.
"""

from __future__ import annotations

import tomllib
import types
from collections import abc
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
import pandas as pd

from features.validation import Adjuster, clean_strings, parse_timestamps
from nps_core.contracts import CONTRACTS, REQUIRED_TABLES, TableContract
from nps_core.errors import ConfigError, SchemaError
from nps_core.scale import NPS_SCALE, SCALE_KEYS, ScoreScale

ROW_COLUMN = "source_row"
"""Column apply_mapping adds: the 1-based data row of the export (header excluded)."""

_TOP_KEYS = ("name", "description", "source", "scale", *CONTRACTS)
_TABLE_KEYS = ("columns", "timestamps", "values", "multiply", "constants", "extra")
_RULE_KEYS = ("format", "end_of_day", "not_before")
_END_OF_DAY = pd.Timedelta(days=1) - pd.Timedelta(seconds=1)


def _frozen(items: dict[str, Any]) -> abc.Mapping[str, Any]:
    return types.MappingProxyType(dict(items))


@dataclass(frozen=True)
class TimestampRule:
    """How to read one timestamp column: its format and, for day-only values, an adjustment."""

    format: str | None = None
    end_of_day: bool = False
    not_before: str | None = None  # "table.column", resolved when the mapping is loaded


@dataclass(frozen=True)
class TableMapping:
    """How one contract table is built from the export's columns."""

    table: str
    columns: abc.Mapping[str, str] = field(default_factory=lambda: _frozen({}))
    timestamps: abc.Mapping[str, TimestampRule] = field(default_factory=lambda: _frozen({}))
    values: abc.Mapping[str, abc.Mapping[str, str]] = field(default_factory=lambda: _frozen({}))
    multiply: abc.Mapping[str, float] = field(default_factory=lambda: _frozen({}))
    constants: abc.Mapping[str, str] = field(default_factory=lambda: _frozen({}))
    extra: abc.Mapping[str, str] = field(default_factory=lambda: _frozen({}))

    @property
    def formats(self) -> dict[str, str]:
        """Timestamp formats by contract column, as validate_table takes them."""
        return {c: r.format for c, r in self.timestamps.items() if r.format is not None}

    @property
    def source_columns(self) -> tuple[str, ...]:
        """Export columns this table reads, each once, in mapping order."""
        return tuple(dict.fromkeys([*self.columns.values(), *self.extra.values()]))


@dataclass(frozen=True)
class Mapping:
    """A loaded mapping file: per-table mappings, the score scale and how to read the export."""

    path: str
    tables: abc.Mapping[str, TableMapping]
    scale: ScoreScale = NPS_SCALE
    delimiter: str | None = None
    encoding: str = "utf-8-sig"
    name: str = ""
    description: str = ""

    def table(self, name: str) -> TableMapping | None:
        return self.tables.get(name)


# --- loading -------------------------------------------------------------------------


def load_mapping(path: Path) -> Mapping:
    """Read and check a mapping file; errors name the file and the key at fault."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"mapping file {path} does not exist")
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"mapping {path}: not valid TOML: {exc}") from exc
    return parse_mapping(document, origin=str(path))


def parse_mapping(document: abc.Mapping[str, Any], *, origin: str) -> Mapping:
    """Build a Mapping from a parsed TOML document; ``origin`` names it in errors."""
    err = _Errors(origin)
    err.unknown_keys(document, _TOP_KEYS, "the top level")
    for name in REQUIRED_TABLES:
        if name not in document:
            err.fail(
                f"[{name}]",
                f"the table is missing; an import needs {' and '.join(REQUIRED_TABLES)}",
            )
    source = _section(document, "source", err)
    err.unknown_keys(source, ("delimiter", "encoding"), "[source]")
    tables = {
        name: _parse_table(_section(document, name, err), CONTRACTS[name], err)
        for name in CONTRACTS
        if name in document
    }
    tables = {name: _resolve_references(t, tables, err) for name, t in tables.items()}
    return Mapping(
        path=origin,
        tables=_frozen(tables),
        scale=_parse_scale(_section(document, "scale", err), err),
        delimiter=_optional_text(source, "delimiter", "[source]", err),
        encoding=_optional_text(source, "encoding", "[source]", err) or "utf-8-sig",
        name=_optional_text(document, "name", "the top level", err) or "",
        description=_optional_text(document, "description", "the top level", err) or "",
    )


class _Errors:
    """Raises ConfigErrors that all name the mapping file the same way."""

    def __init__(self, origin: str) -> None:
        self.origin = origin

    def fail(self, where: str, problem: str) -> NoReturn:
        raise ConfigError(f"mapping {self.origin}: {where}: {problem}")

    def unknown_keys(
        self, section: abc.Mapping[str, Any], allowed: tuple[str, ...], where: str
    ) -> None:
        for key in section:
            if key not in allowed:
                self.fail(f"{where} key '{key}'", f"unknown key; allowed: {', '.join(allowed)}")


def _section(document: abc.Mapping[str, Any], key: str, err: _Errors) -> abc.Mapping[str, Any]:
    value = document.get(key, {})
    if not isinstance(value, dict):
        err.fail(f"[{key}]", "must be a table of keys")
    return value


def _optional_text(
    section: abc.Mapping[str, Any], key: str, where: str, err: _Errors
) -> str | None:
    value = section.get(key)
    if value is not None and (not isinstance(value, str) or value == ""):
        err.fail(f"{where} key '{key}'", "must be a non-empty string")
    return value


def _parse_scale(section: abc.Mapping[str, Any], err: _Errors) -> ScoreScale:
    if not section:
        return NPS_SCALE
    err.unknown_keys(section, SCALE_KEYS, "[scale]")
    for key in SCALE_KEYS:
        value = section.get(key)
        if not isinstance(value, int) or isinstance(value, bool):
            err.fail(f"[scale] key '{key}'", f"must be a whole number, got {value!r}")
    try:
        return ScoreScale(**{k: section[k] for k in SCALE_KEYS})
    except ConfigError as exc:
        raise ConfigError(f"mapping {err.origin}: [scale]: {exc}") from exc


def _parse_table(
    section: abc.Mapping[str, Any], contract: TableContract, err: _Errors
) -> TableMapping:
    name = contract.name
    err.unknown_keys(section, _TABLE_KEYS, f"[{name}]")
    columns = _text_table(section, "columns", name, err)
    constants = _constants(section, name, err)
    for key in (*columns, *constants):
        if key not in contract.names:
            err.fail(
                f"[{name}] key '{key}'",
                f"not a column of {name}; columns: {', '.join(contract.names)}",
            )
    for key in set(columns) & set(constants):
        err.fail(f"[{name}.constants] key '{key}'", "is also in columns; give one or the other")
    for key in contract.required:
        if key not in columns and key not in constants:
            err.fail(f"[{name}.columns]", f"required column '{key}' is not mapped")
    mapped = set(columns) | set(constants)

    def check_target(sub: str, key: str, kinds: tuple[str, ...]) -> None:
        if key not in mapped:
            err.fail(f"[{name}.{sub}] key '{key}'", "the column is not mapped in this table")
        if contract.column(key).kind not in kinds:
            err.fail(
                f"[{name}.{sub}] key '{key}'", f"only {' or '.join(kinds)} columns can have this"
            )

    timestamps = {}
    for key, rule in _section(section, "timestamps", err).items():
        check_target("timestamps", key, ("timestamp",))
        timestamps[key] = _parse_rule(rule, f"[{name}.timestamps] key '{key}'", err)
    multiply = {}
    for key, factor in _section(section, "multiply", err).items():
        check_target("multiply", key, ("float", "int"))
        if key not in columns:
            err.fail(f"[{name}.multiply] key '{key}'", "the column is not mapped from the export")
        if not isinstance(factor, int | float) or isinstance(factor, bool):
            err.fail(f"[{name}.multiply] key '{key}'", f"must be a number, got {factor!r}")
        multiply[key] = float(factor)
    values = {}
    value_maps = _section(section, "values", err)
    for key in value_maps:
        if key not in columns:
            err.fail(f"[{name}.values] key '{key}'", "the column is not mapped from the export")
        values[key] = _frozen(_text_table(value_maps, key, f"{name}.values", err))
    extra = _text_table(section, "extra", name, err)
    for key in extra:
        if key in contract.names or key == ROW_COLUMN:
            err.fail(f"[{name}.extra] key '{key}'", "this name is taken; choose another")
    return TableMapping(
        table=name,
        columns=_frozen(columns),
        timestamps=_frozen(timestamps),
        values=_frozen(values),
        multiply=_frozen(multiply),
        constants=_frozen(constants),
        extra=_frozen(extra),
    )


def _text_table(
    section: abc.Mapping[str, Any], key: str, where: str, err: _Errors
) -> dict[str, str]:
    table = _section(section, key, err)
    for k, v in table.items():
        if not isinstance(v, str) or v == "":
            err.fail(f"[{where}.{key}] key '{k}'", f"must be a non-empty string, got {v!r}")
    return dict(table)


def _constants(section: abc.Mapping[str, Any], name: str, err: _Errors) -> dict[str, str]:
    out = {}
    for key, value in _section(section, "constants", err).items():
        if isinstance(value, bool):
            out[key] = "true" if value else "false"
        elif isinstance(value, int | float | str):
            out[key] = str(value)
        else:
            err.fail(
                f"[{name}.constants] key '{key}'",
                f"must be a string, number or boolean, got {value!r}",
            )
    return out


def _parse_rule(rule: Any, where: str, err: _Errors) -> TimestampRule:
    if isinstance(rule, str):
        return TimestampRule(format=rule or None)
    if not isinstance(rule, dict):
        err.fail(where, "must be a format string or a table with format / end_of_day / not_before")
    err.unknown_keys(rule, _RULE_KEYS, where)
    fmt, end_of_day, not_before = (
        rule.get("format"),
        rule.get("end_of_day", False),
        rule.get("not_before"),
    )
    if fmt is not None and (not isinstance(fmt, str) or not fmt):
        err.fail(where, "'format' must be a non-empty strptime format")
    if not isinstance(end_of_day, bool):
        err.fail(where, "'end_of_day' must be true or false")
    if not_before is not None and (not isinstance(not_before, str) or not not_before):
        err.fail(
            where,
            "'not_before' must name a timestamp column, e.g. 'interactions.first_response_at'",
        )
    return TimestampRule(format=fmt, end_of_day=end_of_day, not_before=not_before)


def _resolve_references(
    table: TableMapping, tables: dict[str, TableMapping], err: _Errors
) -> TableMapping:
    """Qualify each not_before as 'table.column' and check it is a mapped timestamp column."""
    resolved = {}
    for key, rule in table.timestamps.items():
        if rule.not_before is None:
            resolved[key] = rule
            continue
        where = f"[{table.table}.timestamps.{key}] not_before '{rule.not_before}'"
        owner, _, column = rule.not_before.rpartition(".")
        owner = owner or table.table
        target = tables.get(owner)
        if target is None or column not in target.columns:
            err.fail(
                where, "must name a column mapped from the export in this mapping ('table.column')"
            )
        if CONTRACTS[owner].column(column).kind != "timestamp":
            err.fail(where, "must name a timestamp column")
        resolved[key] = TimestampRule(rule.format, rule.end_of_day, f"{owner}.{column}")
    return TableMapping(
        table=table.table,
        columns=table.columns,
        timestamps=_frozen(resolved),
        values=table.values,
        multiply=table.multiply,
        constants=table.constants,
        extra=table.extra,
    )


# --- applying -------------------------------------------------------------------------


def apply_mapping(
    raw: pd.DataFrame, mapping: Mapping, table: str, *, source: str | None = None
) -> pd.DataFrame:
    """The export's columns renamed to the contract's (values still raw) plus ROW_COLUMN.

    Value maps and factors are applied; nothing is parsed or dropped here, so validation
    sees every row. ``source`` names the export in errors. The result has a fresh
    RangeIndex: position i is row i + 1 of the export.
    """
    spec = _table_spec(mapping, table)
    _check_source_columns(raw, spec, mapping, source)
    frame = raw.reset_index(drop=True)
    out: dict[str, pd.Series] = {}
    for column in CONTRACTS[table].names:
        if column in spec.columns:
            values = frame[spec.columns[column]]
            if column in spec.values:
                values = _replace_values(values, spec.values[column])
            if column in spec.multiply:
                values = _multiply(values, spec.multiply[column])
            out[column] = values
        elif column in spec.constants:
            out[column] = pd.Series(spec.constants[column], index=frame.index, dtype="str")
    for name, column in spec.extra.items():
        out[name] = frame[column]
    out[ROW_COLUMN] = pd.Series(np.arange(1, len(frame) + 1, dtype="int64"), index=frame.index)
    return pd.DataFrame(out, index=frame.index)


def timestamp_adjuster(raw: pd.DataFrame, mapping: Mapping, table: str) -> Adjuster | None:
    """The end_of_day / not_before rules of a table as a validate_table ``adjust`` hook.

    Reference columns are read from the same export row, so the hook is aligned with the
    rows apply_mapping produced from the same ``raw``. None when the table has no such rule.
    """
    spec = _table_spec(mapping, table)
    rules = {c: r for c, r in spec.timestamps.items() if r.end_of_day or r.not_before}
    if not rules:
        return None
    frame = raw.reset_index(drop=True)
    floors: dict[str, pd.Series] = {}
    for column, rule in rules.items():
        if rule.not_before is not None:
            owner, _, ref = rule.not_before.partition(".")
            ref_spec = _table_spec(mapping, owner)
            ref_rule = ref_spec.timestamps.get(ref, TimestampRule())
            ref_column = ref_spec.columns[ref]
            if ref_column not in frame.columns:
                raise SchemaError(
                    f"not in the export (mapped by {mapping.path} as the not_before of "
                    f"{table}.{column})",
                    column=ref_column,
                )
            floors[column] = parse_timestamps(frame[ref_column], ref_rule.format)

    def adjust(parsed: pd.DataFrame) -> pd.DataFrame:
        updates = {}
        for column, rule in rules.items():
            values = parsed[column]
            if rule.end_of_day:
                values = values.dt.normalize() + _END_OF_DAY
            if column in floors:
                floor = pd.Series(floors[column].array, index=parsed.index)
                values = values.where(~(floor > values), floor)
            updates[column] = values
        return parsed.assign(**updates)

    return adjust


def _table_spec(mapping: Mapping, table: str) -> TableMapping:
    spec = mapping.table(table)
    if spec is None:
        raise ConfigError(f"mapping {mapping.path} has no [{table}] table")
    return spec


def _check_source_columns(
    raw: pd.DataFrame, spec: TableMapping, mapping: Mapping, source: str | None
) -> None:
    keys: dict[str, str] = {}
    for section, pairs in (("columns", spec.columns), ("extra", spec.extra)):
        for key, column in pairs.items():
            keys.setdefault(column, f"[{spec.table}.{section}] {key}")
    found = [str(c) for c in raw.columns]
    for column, key in keys.items():
        if column not in raw.columns:
            raise SchemaError(
                f"not in the export (mapped by {mapping.path} {key}); "
                f"columns found: {', '.join(found) or 'none'}",
                source=source,
                column=column,
            )


def _replace_values(values: pd.Series, replacements: abc.Mapping[str, str]) -> pd.Series:
    text = clean_strings(values)
    return text.replace(dict(replacements))


def _multiply(values: pd.Series, factor: float) -> pd.Series:
    """Numbers times ``factor``; text that is not a number is left for validation to report."""
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype):
        return values.astype("float64") * factor
    text = clean_strings(values)
    number = pd.to_numeric(text, errors="coerce").astype("float64")
    scaled = (number * factor).astype("str")
    return scaled.where(number.notna(), text)
