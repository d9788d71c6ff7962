"""Reading raw tables from files: the edge where bytes become a DataFrame.

CSV columns are read as text, every one, so that validation (not the CSV parser) decides
what a value means and can quarantine what it cannot read. Parquet keeps its own types.
A file that is not what its name claims is a clear error naming the file.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import pandas as pd

from nps_core.errors import SchemaError

CSV_SUFFIXES = (".csv", ".txt", ".tsv")
PARQUET_SUFFIXES = (".parquet", ".pq")
PARQUET_MAGIC = b"PAR1"
_SNIFF_BYTES = 64 * 1024
_BINARY_SIGNATURES = (
    (b"PAR1", "it looks like a Parquet file"),
    (b"PK\x03\x04", "it looks like a zip archive or an Excel workbook"),
    (b"\x1f\x8b", "it looks like a gzip archive"),
)


def read_raw(
    path: Path, *, delimiter: str | None = None, encoding: str = "utf-8-sig"
) -> pd.DataFrame:
    """Read a CSV (every column as text) or a Parquet file, chosen by the file's suffix.

    ``delimiter`` defaults to a tab for .tsv and a comma otherwise. ``utf-8-sig`` reads
    plain UTF-8 too and drops the byte-order mark some spreadsheet exports add.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"file {path} does not exist")
    if not path.is_file():
        raise _file_error(path, f"file {path} is not a regular file")
    problem = unsupported_type(path)
    if problem:
        raise _file_error(path, f"file {path} {problem}")
    suffix, compressed = _suffix(path)
    if suffix in PARQUET_SUFFIXES:
        return _read_parquet(path)
    sep = delimiter or ("\t" if suffix == ".tsv" else ",")
    return _read_csv(path, sep, encoding, compressed=compressed)


def unsupported_type(path: Path) -> str | None:
    """Why read_raw cannot read PATH, judged by its name alone; None when it can.

    Cheap (reads nothing), so a command can refuse a wrong file before any work.
    """
    suffix, compressed = _suffix(Path(path))
    if suffix in CSV_SUFFIXES or (suffix in PARQUET_SUFFIXES and not compressed):
        return None
    shown = "".join(Path(path).suffixes[-2:]) if compressed else Path(path).suffix
    return (
        f"has an unsupported type '{shown}' "
        f"(expected one of {', '.join(CSV_SUFFIXES + PARQUET_SUFFIXES)}, a CSV may be "
        f"gzip-compressed: .csv.gz)"
    )


def _suffix(path: Path) -> tuple[str, bool]:
    """The suffix that says how to read PATH (a .gz looked through), and whether it is gzipped."""
    suffix = path.suffix.lower()
    if suffix == ".gz":
        return Path(path.stem).suffix.lower(), True
    return suffix, False


def _read_parquet(path: Path) -> pd.DataFrame:
    size = path.stat().st_size
    with path.open("rb") as handle:
        head = handle.read(4)
        handle.seek(max(size - 4, 0))
        tail = handle.read(4)
    if size < 12 or head != PARQUET_MAGIC or tail != PARQUET_MAGIC:
        raise _file_error(
            path,
            f"file {path} is not a valid Parquet file (it does not start and end with the "
            f"Parquet signature; is it a CSV file with the wrong name?)",
        )
    try:
        frame = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several types for corrupt files
        raise _file_error(path, f"file {path} is not a valid Parquet file: {exc}") from exc
    if frame.index.name is not None or any(n is not None for n in frame.index.names):
        frame = frame.reset_index()  # a named index is data someone wrote; keep it as columns
    return frame.reset_index(drop=True)


def _read_csv(path: Path, sep: str, encoding: str, *, compressed: bool = False) -> pd.DataFrame:
    try:
        with gzip.open(path, "rb") if compressed else path.open("rb") as handle:
            head = handle.read(_SNIFF_BYTES)
    except (OSError, EOFError) as exc:
        raise _file_error(path, f"file {path} is not a readable gzip file: {exc}") from exc
    if not head.strip():
        raise _file_error(path, f"file {path} is empty (a CSV file needs at least a header row)")
    for signature, looks_like in _BINARY_SIGNATURES:
        if head.startswith(signature):
            raise _file_error(path, f"file {path} is not a CSV text file ({looks_like})")
    if b"\x00" in head:
        raise _file_error(path, f"file {path} is not a CSV text file (it contains binary data)")
    try:
        frame = pd.read_csv(
            path,
            sep=sep,
            dtype="str",
            keep_default_na=False,
            na_filter=False,
            encoding=encoding,
            compression="gzip" if compressed else None,
        )
    except UnicodeDecodeError as exc:
        raise _file_error(
            path,
            f"file {path} is not readable as {encoding} text ({exc.reason} at byte {exc.start})",
        ) from exc
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
        raise _file_error(path, f"file {path} is not a readable CSV file: {exc}") from exc
    return frame.rename(columns=lambda name: str(name).strip())


def _file_error(path: Path, message: str) -> SchemaError:
    """A SchemaError whose message reads 'file X is ...' and which still records the file."""
    error = SchemaError(message)
    error.source = str(path)
    return error
