"""The command line's argument types: each turns one text into a value or refuses it in one line.

argparse runs them while parsing, so a bad date, count or path is answered before any
data is read or any store opened; OneLineParser prints argparse's own complaints (a
missing or unknown argument) as one line too. Nothing here creates a file or folder.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import sys
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import NoReturn

from nps_core.redaction import redact

BAD_INPUT = 2  # the exit code of anything the user can fix
FREQS = {"W": "week", "M": "month", "Q": "quarter"}
_YEARS = (1678, 2261)  # what a nanosecond timestamp holds


class OneLineParser(argparse.ArgumentParser):
    """argparse answering a bad argument in one line on stderr (no usage block), exit code 2."""

    def error(self, message: str) -> NoReturn:
        _refuse(self.prog, message)


def _refuse(prog: str, message: str) -> NoReturn:
    print(f"{prog}: {_argument_message(message)}", file=sys.stderr)
    raise SystemExit(BAD_INPUT)


def _argument_message(message: str) -> str:
    """argparse's 'argument --as-of: 'x' is not...' as '--as-of 'x' is not...'."""
    found = re.fullmatch(r"argument (\S+?): (.*)", one_line(message))
    if found is None:
        return one_line(message)
    flag, text = found.group(1).split("/")[-1], found.group(2)
    return f"{flag} {text}" if text.startswith(("'", '"')) else f"{flag}: {text}"


def one_line(text: str) -> str:
    """A message as one line, credentials masked: every error the command line prints."""
    return " ".join(redact(text).split())


def _bad(text: str, problem: str) -> argparse.ArgumentTypeError:
    return argparse.ArgumentTypeError(f"{text!r} {problem}")


def _whole(text: str, least: int, what: str, most: int | None = None) -> int:
    try:
        value = int(text)
    except ValueError:
        raise _bad(text, f"is not {what}") from None
    if value < least or (most is not None and value > most):
        raise _bad(text, f"is not {what}")
    return value


def positive_int(text: str) -> int:
    return _whole(text, 1, "a positive whole number")


def seed(text: str) -> int:
    return _whole(text, 0, "a whole number >= 0")


def port(text: str) -> int:
    return _whole(text, 1, "a port number (1-65535)", most=65535)


def fraction(least: float, below: float, what: str) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not least <= value < below:  # NaN fails here too
            raise _bad(text, f"is not {what}")
        return value

    return parse


def log_odds(text: str) -> float:
    """A finite change of log-odds, within +-10 (beyond, a probability is 0 or 1)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not -10.0 <= value <= 10.0:  # NaN fails here too
        raise _bad(text, "is not a log-odds change (a number from -10 to 10)")
    return value


def _in_years(text: str, when: date) -> None:
    if not _YEARS[0] <= when.year <= _YEARS[1]:
        raise _bad(text, f"is outside the years {_YEARS[0]}-{_YEARS[1]}")


def iso_date(text: str) -> date:
    try:
        value = date.fromisoformat(text)
    except ValueError:
        raise _bad(text, "is not a date (expected YYYY-MM-DD)") from None
    _in_years(text, value)
    return value


def iso_moment(text: str) -> str:
    """A date or an ISO 8601 time, handed on as ISO text (a bare date: 00:00 UTC)."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise _bad(
            text, "is not a date or time (expected YYYY-MM-DD or YYYY-MM-DDTHH:MM)"
        ) from None
    _in_years(text, value)
    return value.isoformat()


def period(text: str) -> str:
    value = text.strip().upper()
    if value not in FREQS:
        raise _bad(
            text, f"is not a period (expected {', '.join(FREQS)}: {', '.join(FREQS.values())})"
        )
    return value


def data_dir(text: str) -> Path:
    from features.dataset import missing_tables

    path = Path(text)
    if not path.exists():
        raise _bad(text, "does not exist (expected a DIR written by simulate or import)")
    if not path.is_dir():
        raise _bad(text, "is a file (expected a DIR written by simulate or import)")
    missing = missing_tables(path)
    if missing:
        expected = ", ".join(f"{name}.parquet or .csv" for name in missing)
        raise _bad(text, f"has no {' and no '.join(missing)} table (expected {expected} in it)")
    return path


def data_source(text: str) -> Path | str:
    """A data DIR, or the SQLAlchemy URL of a database holding the same tables (a SQLite
    file must exist; a server is not contacted here)."""
    if "://" not in text:
        return data_dir(text)
    from features.database import check_url, shown_url

    problem = check_url(text)
    if problem:
        raise _bad(shown_url(text), problem)
    from sqlalchemy.engine import make_url

    parsed = make_url(text)
    if parsed.get_backend_name() == "sqlite" and not Path(parsed.database or "").is_file():
        raise _bad(
            shown_url(text),
            "does not exist (fill it with `nps-risk load --data DIR --into URL`)",
        )
    return text


def database_url(text: str) -> str:
    """The SQLAlchemy URL of a database to write (SQLite or PostgreSQL); created if need be."""
    from features.database import check_url, shown_url

    problem = check_url(text)
    if problem:
        raise _bad(shown_url(text), problem)
    return text


def input_file(text: str) -> Path:
    path = Path(text)
    if not path.exists():
        raise _bad(text, "does not exist")
    if not path.is_file():
        raise _bad(text, "is not a file")
    return path


def table_file(text: str) -> Path:
    from features.readers import unsupported_type

    path = input_file(text)
    problem = unsupported_type(path)
    if problem:
        raise _bad(text, problem)
    return path


def _writable(text: str, path: Path) -> None:
    """The nearest existing folder above PATH must be one we can create PATH in; creates nothing."""
    ancestor = path.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise _bad(text, f"cannot be created: {str(ancestor)!r} is a file")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise _bad(text, f"cannot be created: no permission to write in {str(ancestor)!r}")


def out_dir(text: str) -> Path:
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise _bad(text, "is a file (expected a folder)")
    _writable(text, path)
    return path


def out_file(text: str) -> Path:
    path = Path(text)
    if path.is_dir():
        raise _bad(text, "is a folder (expected a file name)")
    _writable(text, path)
    return path


def table_out(text: str) -> Path:
    path = out_file(text)
    if path.suffix.lower() not in (".parquet", ".csv"):
        raise _bad(text, "must end in .parquet or .csv")
    return path
