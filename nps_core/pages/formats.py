"""How pages write numbers: "n/a" for a missing value, fixed decimals, thousands separators.

Plain functions, so Python code building table rows and the templates (as filters) agree.
"""

from __future__ import annotations

import math

import numpy as np


def missing(value: object) -> bool:
    """None or NaN: a value a page shows as "n/a"."""
    return value is None or (isinstance(value, float | np.floating) and math.isnan(value))


def num(value: object, digits: int) -> str:
    return "n/a" if missing(value) else f"{float(value):.{digits}f}"  # type: ignore[arg-type]


def count(value: object) -> str:
    return "n/a" if missing(value) else f"{int(value):,}"  # type: ignore[call-overload]


def percent(value: object) -> str:
    """A share as a percentage with one decimal: 0.1234 -> "12.3%"."""
    return "n/a" if missing(value) else f"{100 * float(value):.1f}%"  # type: ignore[arg-type]


def lift(value: object) -> str:
    return "n/a" if missing(value) else f"{float(value):.2f}×"  # type: ignore[arg-type]
