"""Check a raw table against its contract: canonical rows kept, bad rows quarantined.

Pure: a DataFrame in, a ``ValidationResult`` out. Every row read ends either in ``kept``
or in ``quarantine`` (one quarantine row per problem found in it), and that bookkeeping
is checked, not hoped. All checks are vectorised; Python loops only build the messages
of bad rows.

Canonical form: contract columns in contract order (absent optional ones added, all
missing), then any extra columns of the input; ``str`` columns stripped with empty
strings as missing; timestamps ``datetime64[ns, UTC]`` (naive read as UTC, tz-aware
converted); ``float`` float64; ``int`` Int64; ``bool`` boolean; channels lower-case with
``CHANNEL_ALIASES`` applied.

Over 400 lines: the parser of each column kind and the cross-column checks share the
problem bookkeeping that makes the counts reconcile; apart, each would re-derive it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from features.threads import executor
from nps_core.contracts import CHANNEL_ALIASES, KIND_DTYPES, Column, ColumnKind, TableContract
from nps_core.errors import ConfigError, SchemaError
from nps_core.scale import NPS_SCALE, ScoreScale

QUARANTINE_COLUMNS: tuple[str, ...] = ("table", "source", "row", "column", "value", "reason")

TRUE_WORDS = frozenset({"true", "yes", "y", "1", "t"})
FALSE_WORDS = frozenset({"false", "no", "n", "0", "f"})

ISO_HINT = "ISO 8601, e.g. 2024-03-01 09:30:00+00:00"
MISSING_REQUIRED = "missing required value"
NOT_WHOLE = "not a whole number"
NOT_A_NUMBER = "not a number"
NOT_FINITE = "not a finite number"
UNPARSEABLE_BOOL = "unparseable boolean"
OUT_OF_RANGE_TIME = "timestamp outside the years 1678-2261"

# Rules by column name, applied wherever the contract has the columns.
_NOT_BEFORE_OPENED = ("first_response_at", "resolved_at")
_NON_NEGATIVE = ("handle_time_s", "contacts", "transfers")
_UNIT_INTERVAL = ("sentiment",)

# datetime64[ns] can hold these; parsed values outside them would overflow.
_TIME_MIN = pd.Timestamp("1677-09-22", tz="UTC")
_TIME_MAX = pd.Timestamp("2262-04-10", tz="UTC")

# Reasons carrying a per-row detail, and their per-row-free form for counting.
_REASON_DETAILS = (
    (re.compile(r" \(first seen at row \d+\)$"), ""),
    (re.compile(r"^score .* outside the scale "), "score outside the scale "),
)

Adjuster = Callable[[pd.DataFrame], pd.DataFrame]
"""Pure hook run on the parsed columns before the cross-column checks (see validate_table)."""

# (rows at fault as a boolean mask over all rows, column, reason: one text or one per bad row)
_Problem = tuple[np.ndarray, str, "str | np.ndarray"]


@dataclass(frozen=True)
class TableReport:
    """Counts for one table: rows read = kept + quarantined rows; problems counted by reason.

    A quarantined row may have several problems, so ``problems`` can exceed ``quarantined``;
    a row has each reason at most once, so a reason's count is also the rows that have it.
    """

    rows_read: int
    kept: int
    quarantined: int
    reasons: dict[str, int]

    @property
    def problems(self) -> int:
        return sum(self.reasons.values())

    def to_dict(self) -> dict[str, object]:
        return {
            "rows_read": self.rows_read,
            "kept": self.kept,
            "quarantined": self.quarantined,
            "problems": self.problems,
            "reasons": dict(self.reasons),
        }


@dataclass(frozen=True)
class ValidationResult:
    """Canonical rows kept, one quarantine row per (row, problem), and how many rows were read."""

    kept: pd.DataFrame
    quarantine: pd.DataFrame
    rows_read: int

    def __post_init__(self) -> None:
        if self.rows_read != len(self.kept) + self.quarantined_rows:
            raise RuntimeError(
                f"row bookkeeping broken: {self.rows_read} rows read but {len(self.kept)} kept "
                f"and {self.quarantined_rows} quarantined; this is a bug, please report it"
            )

    @property
    def quarantined_rows(self) -> int:
        """Distinct source rows set aside (a row with two problems counts once)."""
        if self.quarantine.empty:
            return 0
        return len(self.quarantine.drop_duplicates(["table", "source", "row"]))

    def report(self) -> TableReport:
        return TableReport(
            rows_read=self.rows_read,
            kept=len(self.kept),
            quarantined=self.quarantined_rows,
            reasons=reason_counts(self.quarantine),
        )


def empty_quarantine() -> pd.DataFrame:
    """A quarantine frame with no rows but all its columns, so callers can concat freely."""
    return _EMPTY_QUARANTINE.copy()  # a copy of a template: building one costs ~2 ms


_EMPTY_QUARANTINE = pd.DataFrame(
    {
        "table": pd.Series(dtype="str"),
        "source": pd.Series(dtype="str"),
        "row": pd.Series(dtype="Int64"),
        "column": pd.Series(dtype="str"),
        "value": pd.Series(dtype="str"),
        "reason": pd.Series(dtype="str"),
    }
)


def empty_table(contract: TableContract) -> pd.DataFrame:
    """A canonical table with no rows: every contract column, with its canonical dtype."""
    return pd.DataFrame({c.name: _missing_column(c.kind, 0) for c in contract.columns})


def normalise_channels(channels: pd.Series) -> pd.Series:
    """Lower-case, strip and apply CHANNEL_ALIASES, so 'Live Chat ' and 'chat' are one channel."""
    codes, uniques = pd.factorize(channels)  # few distinct values: clean and map those only
    names = clean_strings(pd.Series(uniques)).str.lower().replace(CHANNEL_ALIASES)
    out = names.astype("str").array.take(codes, allow_fill=True)
    return pd.Series(out, index=channels.index, dtype="str")


def clean_strings(values: pd.Series) -> pd.Series:
    """Values as the ``str`` dtype, stripped, with empty strings as missing."""
    text = values if values.dtype == "str" else values.astype("str")
    text = text.str.strip()
    return text.where(text != "")


def parse_timestamps(values: pd.Series, fmt: str | None = None) -> pd.Series:
    """Timestamps as datetime64[ns, UTC]; naive ones are UTC, aware ones converted; bad -> NaT.

    Without ``fmt`` strings must be ISO 8601 (what our own writers produce).
    """
    return _in_ns_range(_to_utc(values, fmt))


def _to_utc(values: pd.Series, fmt: str | None) -> pd.Series:
    """Parsed at whatever resolution pandas picks; unparseable -> NaT."""
    utc: pd.Series  # .dt on an untyped Series is Any to the pandas stubs
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        utc = values.dt.tz_convert("UTC")
        return utc
    if pd.api.types.is_datetime64_dtype(values.dtype):
        utc = values.dt.tz_localize("UTC")
        return utc
    return pd.to_datetime(clean_strings(values), format=fmt or "ISO8601", utc=True, errors="coerce")


def _in_ns_range(parsed: pd.Series) -> pd.Series:
    """datetime64[ns] covers 1677-2262 only: values outside become NaT instead of overflowing."""
    in_range = (parsed >= _TIME_MIN) & (parsed <= _TIME_MAX)
    in_ns: pd.Series = parsed.where(in_range).dt.as_unit("ns")
    return in_ns


def reason_counts(quarantine: pd.DataFrame) -> dict[str, int]:
    """Problems counted by 'column: reason', per-row details (values, row numbers) removed."""
    if quarantine.empty:
        return {}
    reasons = quarantine["reason"].astype("str")
    for pattern, replacement in _REASON_DETAILS:
        reasons = reasons.str.replace(pattern, replacement, regex=True)
    keys = quarantine["column"].astype("str") + ": " + reasons
    return {str(k): int(v) for k, v in keys.value_counts().sort_index().items()}


def validate_table(
    raw: pd.DataFrame,
    contract: TableContract,
    *,
    source: str,
    scale: ScoreScale = NPS_SCALE,
    timestamp_formats: dict[str, str] | None = None,
    row_numbers: pd.Series | None = None,
    adjust: Adjuster | None = None,
    workers: int = 1,
) -> ValidationResult:
    """Split ``raw`` into canonical kept rows and quarantined problems.

    ``source`` names the file in messages; ``row_numbers`` (one per raw row, unique) replaces
    the default 1-based data row numbers. ``adjust``, if given, receives the parsed contract
    columns (one row per raw row, in order, NaT/NA where a value was missing or bad) and
    returns them changed (e.g. a day-only survey date moved to the end of its day); it runs
    before the cross-column checks so those see the adjusted values. Extra (non-contract)
    columns are carried beside the contract columns: text ones cleaned as ``str``.
    """
    _check_required_columns(raw, contract, source)
    formats = _check_formats(timestamp_formats or {}, contract)
    n = len(raw)
    rows = _row_numbers(row_numbers, n)
    frame = raw.reset_index(drop=True)

    parsed: dict[str, pd.Series] = {}
    problems: list[_Problem] = []
    present = sorted(
        (c for c in contract.columns if c.name in frame.columns),
        key=lambda c: c.name != contract.key,  # the key first: its duplicate check overlaps
    )

    def parse(column: Column) -> tuple[pd.Series, list[_Problem]]:
        return _parse_column(frame[column.name], column, formats.get(column.name))

    # Arrow and numpy release the GIL: columns parse side by side on a large table
    with executor(n, workers) as pool:
        futures = {c.name: pool.submit(parse, c) for c in present[:1]}
        duplicates = None
        if adjust is None and contract.key in futures:  # an adjuster may change the key
            key_values = futures[contract.key]
            duplicates = pool.submit(
                lambda: _duplicate_problems(key_values.result()[0], contract.key, rows)
            )
        futures |= {c.name: pool.submit(parse, c) for c in present[1:]}
        results = {name: future.result() for name, future in futures.items()}
        early_duplicates = duplicates.result() if duplicates is not None else None
    for column in contract.columns:
        if column.name not in frame.columns:
            parsed[column.name] = _missing_column(column.kind, n)
            continue
        values, found = results[column.name]
        problems.extend(found)
        if column.required:
            problems.append((_mask(values.isna()) & ~_any(found, n), column.name, MISSING_REQUIRED))
        parsed[column.name] = values
    if "channel" in parsed:
        parsed["channel"] = normalise_channels(parsed["channel"])
    canonical = pd.DataFrame(parsed)
    if adjust is not None:
        canonical = _run_adjuster(adjust, canonical)

    problems.extend(_rule_problems(canonical, contract, scale))
    if early_duplicates is None:
        early_duplicates = _duplicate_problems(canonical[contract.key], contract.key, rows)
    problems.extend(early_duplicates)

    bad = _any(problems, n)
    extras = {
        name: _carry_extra(frame[name]) for name in frame.columns if name not in contract.names
    }
    kept = pd.concat([canonical, pd.DataFrame(extras, index=canonical.index)], axis=1)
    kept = _rows(kept, ~bad)
    quarantine = _quarantine_frame(problems, frame, contract.name, source, rows)
    return ValidationResult(kept=kept, quarantine=quarantine, rows_read=n)


# --- schema checks -------------------------------------------------------------------


def _check_required_columns(raw: pd.DataFrame, contract: TableContract, source: str) -> None:
    found = [str(c) for c in raw.columns]
    for name in contract.required:
        if name not in raw.columns:
            raise SchemaError(
                f"missing required column '{name}' of table {contract.name} "
                f"(columns found: {', '.join(found) or 'none'})",
                source=source,
                column=name,
            )


def _check_formats(formats: dict[str, str], contract: TableContract) -> dict[str, str]:
    timestamps = contract.of_kind("timestamp")
    for name in formats:
        if name not in timestamps:
            raise ConfigError(
                f"a timestamp format was given for '{name}', which is not a timestamp column "
                f"of {contract.name} (timestamp columns: {', '.join(timestamps)})"
            )
    return dict(formats)


def _row_numbers(row_numbers: pd.Series | None, n: int) -> np.ndarray:
    if row_numbers is None:
        return np.arange(1, n + 1, dtype="int64")
    rows = pd.Series(row_numbers).to_numpy()
    if len(rows) != n:
        raise ValueError(f"row_numbers has {len(rows)} values for {n} rows")
    if pd.isna(rows).any() or len(np.unique(rows)) != n:
        raise ValueError("row_numbers must be unique and not missing")
    return rows.astype("int64")


# --- parsing one column ----------------------------------------------------------------


def _parse_column(
    values: pd.Series, column: Column, fmt: str | None
) -> tuple[pd.Series, list[_Problem]]:
    """Canonical values plus the problems of unparseable ones (missing is not a problem here)."""
    name = column.name
    if column.kind == "str":
        return clean_strings(values), []
    if column.kind == "timestamp":
        return _parse_timestamp_column(values, name, fmt)
    if column.kind == "bool":
        return _parse_bool_column(values, name)
    number, problems = _parse_number_column(values, name)
    if column.kind == "float":
        return number, problems
    whole = _mask(number.isna() | (np.floor(number) == number))
    fits = _mask(number.isna() | (number.abs() < 2.0**63))
    problems.append((~whole | ~fits, name, NOT_WHOLE))
    return number.where(whole & fits).astype("Int64"), problems


def _parse_timestamp_column(
    values: pd.Series, name: str, fmt: str | None
) -> tuple[pd.Series, list[_Problem]]:
    loose = _to_utc(values, fmt)
    parsed = _in_ns_range(loose)
    out_of_range = _mask(loose.notna()) & _mask(parsed.isna())
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        return parsed, [(out_of_range, name, OUT_OF_RANGE_TIME)]
    unparseable = _mask(clean_strings(values).notna()) & _mask(loose.isna())
    hint = f"expected format {fmt}" if fmt else f"expected {ISO_HINT}"
    return parsed, [
        (unparseable, name, f"unparseable timestamp ({hint})"),
        (out_of_range, name, OUT_OF_RANGE_TIME),
    ]


def _parse_number_column(values: pd.Series, name: str) -> tuple[pd.Series, list[_Problem]]:
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype):
        number = values.astype("float64")
        return _finite(number, name, np.zeros(len(values), dtype=bool))
    text = clean_strings(values)
    number = _to_float(text)
    unparseable = _mask(text.notna()) & _mask(number.isna())
    return _finite(number, name, unparseable)


def _to_float(text: pd.Series) -> pd.Series:
    """Text as float64, unparseable -> NaN; Arrow's strict cast first (10x faster when clean)."""
    try:
        cast = pc.cast(pa.array(text.array), pa.float64())
        return pd.Series(cast.to_numpy(zero_copy_only=False), index=text.index, dtype="float64")
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, TypeError):
        return pd.to_numeric(text, errors="coerce").astype("float64")


def _finite(
    number: pd.Series, name: str, unparseable: np.ndarray
) -> tuple[pd.Series, list[_Problem]]:
    infinite = np.isinf(number.to_numpy())
    return number.where(~infinite), [
        (unparseable, name, NOT_A_NUMBER),
        (infinite, name, NOT_FINITE),
    ]


def _parse_bool_column(values: pd.Series, name: str) -> tuple[pd.Series, list[_Problem]]:
    if pd.api.types.is_bool_dtype(values.dtype):
        return values.astype("boolean"), []
    if pd.api.types.is_numeric_dtype(values.dtype):
        number = values.astype("float64")
        is_true, is_false = _mask(number == 1), _mask(number == 0)
        present = _mask(number.notna())
    else:
        text = clean_strings(values).str.lower()
        is_true, is_false = _mask(text.isin(TRUE_WORDS)), _mask(text.isin(FALSE_WORDS))
        present = _mask(text.notna())
    out = pd.array(np.where(is_true, True, False), dtype="boolean")
    out[~(is_true | is_false)] = pd.NA
    unparseable = present & ~(is_true | is_false)
    return pd.Series(out, index=values.index), [(unparseable, name, UNPARSEABLE_BOOL)]


def _missing_column(kind: ColumnKind, n: int) -> pd.Series:
    """An all-missing column of the canonical dtype, for optional columns a source lacks."""
    if kind == "str":
        return pd.Series(pd.array(pa.nulls(n, pa.large_string()), dtype="str"))
    if kind == "timestamp":
        nat: pd.Series = pd.Series(np.full(n, np.datetime64("NaT", "ns")))
        missing: pd.Series = nat.dt.tz_localize("UTC")
        return missing
    return pd.Series(np.full(n, np.nan)).astype(KIND_DTYPES[kind])


def canonical_text(frame: pd.DataFrame, contract: TableContract) -> pd.DataFrame:
    """Text as validation leaves it: ``str`` contract columns and text extras stripped with
    empty as missing, channels normalised. For rows that skip validation (the API's), so
    online and batch read the same values."""
    cleaned = {
        name: normalise_channels(frame[name]) if name == "channel" else clean_strings(frame[name])
        for name in contract.of_kind("str")
        if name in frame.columns
    }
    extras = {n: _carry_extra(frame[n]) for n in frame.columns if n not in contract.names}
    return frame.assign(**cleaned, **extras)


def _carry_extra(values: pd.Series) -> pd.Series:
    """Extra columns are kept; text ones get the same cleaning as contract ``str`` columns."""
    if pd.api.types.is_string_dtype(values.dtype) or values.dtype == object:
        return clean_strings(values)
    return values


def _run_adjuster(adjust: Adjuster, canonical: pd.DataFrame) -> pd.DataFrame:
    adjusted = adjust(canonical)
    if len(adjusted) != len(canonical) or list(adjusted.columns) != list(canonical.columns):
        raise ValueError("a timestamp adjuster must return the same rows and columns it was given")
    return adjusted.reset_index(drop=True)


# --- rules across rows and columns ------------------------------------------------------


def _rule_problems(
    canonical: pd.DataFrame, contract: TableContract, scale: ScoreScale
) -> list[_Problem]:
    names = set(contract.names)
    problems: list[_Problem] = []
    if "opened_at" in names:
        for later in _NOT_BEFORE_OPENED:
            if later in names:
                before = _mask(canonical[later] < canonical["opened_at"])
                problems.append((before, later, f"{later} before opened_at"))
    for name in _NON_NEGATIVE:
        if name in names:
            problems.append((_mask(canonical[name] < 0), name, f"negative {name}"))
    for name in _UNIT_INTERVAL:
        if name in names:
            outside = _mask((canonical[name] < -1) | (canonical[name] > 1))
            problems.append((outside, name, f"{name} outside [-1, 1]"))
    if "score" in names and contract.column("score").kind == "int":
        score = canonical["score"]
        off = _mask((score < scale.low) | (score > scale.high))
        if off.any():
            shown = score[off].astype("str").to_numpy(dtype=object)
            reasons = "score " + shown + f" outside the scale {scale.low}-{scale.high}"
            problems.append((off, "score", reasons))
    return problems


def _duplicate_problems(key: pd.Series, name: str, rows: np.ndarray) -> list[_Problem]:
    """Later occurrences of a key are quarantined, naming the row of the first one."""
    codes, uniques = pd.factorize(key)  # one hash pass; missing keys get -1
    position = np.arange(len(codes))
    first = np.empty(len(uniques) + 1, dtype=np.int64)
    first[codes[::-1]] = position[::-1]  # the last write wins: reversed, the first occurrence
    later = (codes >= 0) & (first.take(codes) != position)
    if not later.any():
        return []
    seen_at = rows[first.take(codes[later])].astype(str).astype(object)
    return [(later, name, f"duplicate {name} (first seen at row " + seen_at + ")")]


def _rows(frame: pd.DataFrame, keep: np.ndarray) -> pd.DataFrame:
    """The kept rows, filtered column by column (for Arrow-backed text several times faster
    than filtering the frame at once); no copy when nothing is dropped."""
    if keep.all():
        return frame.reset_index(drop=True)
    return pd.DataFrame({name: frame[name][keep].reset_index(drop=True) for name in frame.columns})


# --- the quarantine ----------------------------------------------------------------------


def _quarantine_frame(
    problems: list[_Problem], frame: pd.DataFrame, table: str, source: str, rows: np.ndarray
) -> pd.DataFrame:
    parts = []
    for order, (mask, column, reason) in enumerate(problems):
        where = np.flatnonzero(mask)
        if len(where) == 0:
            continue
        value = (
            _as_text(frame[column].iloc[where])
            if column in frame.columns
            else np.full(len(where), "", dtype=object)
        )
        parts.append(
            pd.DataFrame(
                {
                    "position": where,
                    "order": order,
                    "row": rows[where],
                    "column": column,
                    "value": value,
                    "reason": reason,
                }
            )
        )
    if not parts:
        return empty_quarantine()
    found = pd.concat(parts, ignore_index=True).sort_values(["position", "order"], kind="stable")
    return pd.DataFrame(
        {
            "table": pd.Series(table, index=found.index, dtype="str"),
            "source": pd.Series(source, index=found.index, dtype="str"),
            "row": found["row"].astype("Int64"),
            "column": found["column"].astype("str"),
            "value": found["value"].astype("str"),
            "reason": found["reason"].astype("str"),
        }
    ).reset_index(drop=True)


def _as_text(values: pd.Series) -> np.ndarray:
    text = values.astype("str").str.strip()
    return text.fillna("").to_numpy(dtype=object)


def _mask(values: pd.Series | np.ndarray) -> np.ndarray:
    """A plain numpy boolean mask; missing (NA/NaT comparisons) counts as False."""
    if isinstance(values, pd.Series):
        return values.fillna(False).to_numpy(dtype=bool)
    return np.asarray(values, dtype=bool)


def _any(problems: list[_Problem], n: int) -> np.ndarray:
    bad = np.zeros(n, dtype=bool)
    for mask, _, _ in problems:
        bad |= mask
    return bad
