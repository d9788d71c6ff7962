"""Hold-outs: by time for anything with a time (train older, validate newer, test newest),
stratified at random only for a bring-your-own table that has no time column."""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from nps_core.errors import NpsRiskError


@dataclass(frozen=True)
class Split:
    train: np.ndarray  # row positions
    valid: np.ndarray
    test: np.ndarray
    kind: str  # "time" or "stratified-random"
    valid_from: pd.Timestamp | None = None
    test_from: pd.Timestamp | None = None

    def describe(self) -> dict[str, object]:
        return {
            "split": self.kind,
            "rows_train": len(self.train),
            "rows_valid": len(self.valid),
            "rows_test": len(self.test),
            "valid_from": None if self.valid_from is None else self.valid_from.isoformat(),
            "test_from": None if self.test_from is None else self.test_from.isoformat(),
        }


def split_by_time(
    times: pd.Series,
    *,
    test_from: pd.Timestamp | None = None,
    test_share: float = 0.2,
    valid_share: float = 0.15,
    min_rows: int = 20,
) -> Split:
    """Boundaries are timestamps, so rows at the same instant never straddle two sets."""
    t: pd.Series = pd.to_datetime(times, utc=True).reset_index(drop=True)
    # a quantile of timestamps is a timestamp (the pandas stubs type it for numbers only)
    if test_from is None:
        test_from = cast(pd.Timestamp, t.quantile(1 - test_share))
    before = t[t < test_from]
    if before.empty:
        raise NpsRiskError(f"nothing to train on before the test period starting {test_from}")
    # validation: the newest rows before the test period, the same share of them either way
    valid_from = cast(pd.Timestamp, before.quantile(1 - valid_share / (1 - test_share)))
    positions = np.arange(len(t))
    split = Split(
        train=positions[(t < valid_from).to_numpy()],
        valid=positions[((t >= valid_from) & (t < test_from)).to_numpy()],
        test=positions[(t >= test_from).to_numpy()],
        kind="time",
        valid_from=valid_from,
        test_from=test_from,
    )
    _check_sizes(split, min_rows)
    return split


def split_stratified(
    y: np.ndarray,
    *,
    test_share: float = 0.2,
    valid_share: float = 0.15,
    seed: int = 42,
    min_rows: int = 20,
) -> Split:
    positions = np.arange(len(y))
    rest, test = train_test_split(positions, test_size=test_share, stratify=y, random_state=seed)
    train, valid = train_test_split(
        rest, test_size=valid_share / (1 - test_share), stratify=y[rest], random_state=seed
    )
    split = Split(
        train=np.sort(train), valid=np.sort(valid), test=np.sort(test), kind="stratified-random"
    )
    _check_sizes(split, min_rows)
    return split


def _check_sizes(split: Split, min_rows: int) -> None:
    for name in ("train", "valid", "test"):
        n = len(getattr(split, name))
        if n < min_rows:
            raise NpsRiskError(
                f"the {name} set has {n} rows (at least {min_rows} needed): bring more survey answers "
                "or move --test-from"
            )
