"""Hold-outs: by time for anything with a time (train oldest, then early stopping, then
calibration, test newest), grouped by id for a bring-your-own table without a time column.

Four parts, so that nothing is fitted twice on the same rows: the booster learns on
``train``, early stopping picks its rounds on ``valid``, the calibration and the risk bands
are fitted on ``calib`` (rows the early stopping never saw), and ``test`` is only scored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import numpy as np
import pandas as pd

from nps_core.errors import NpsRiskError

PARTS = ("train", "valid", "calib", "test")


@dataclass(frozen=True)
class Split:
    train: np.ndarray  # row positions: the booster's fit
    valid: np.ndarray  # early stopping only
    calib: np.ndarray  # calibration and risk bands only
    test: np.ndarray  # scored, never fitted on
    kind: str  # "time" or "grouped" (by id, no time column)
    valid_from: pd.Timestamp | None = None
    calib_from: pd.Timestamp | None = None
    test_from: pd.Timestamp | None = None
    time_column: str | None = None  # the column the time boundaries apply to

    def describe(self) -> dict[str, object]:
        def iso(stamp: pd.Timestamp | None) -> str | None:
            return None if stamp is None else stamp.isoformat()

        return {
            "split": self.kind,
            "rows_train": len(self.train),
            "rows_valid": len(self.valid),
            "rows_calib": len(self.calib),
            "rows_test": len(self.test),
            "valid_from": iso(self.valid_from),
            "calib_from": iso(self.calib_from),
            "test_from": iso(self.test_from),
            "time_column": self.time_column,
        }


def split_by_time(
    times: pd.Series,
    *,
    test_from: pd.Timestamp | None = None,
    test_share: float = 0.2,
    valid_share: float = 0.1,
    calib_share: float = 0.1,
    min_rows: int = 20,
) -> Split:
    """Boundaries are timestamps, so rows at the same instant never straddle two sets.

    The early-stopping and calibration periods are the newest rows before the test period
    (calibration the newest of all, the closest to the test), each the same share of those
    rows whether ``test_from`` is given or not."""
    t: pd.Series = pd.to_datetime(times, utc=True).reset_index(drop=True)
    # a quantile of timestamps is a timestamp (the pandas stubs type it for numbers only)
    if test_from is None:
        test_from = cast(pd.Timestamp, t.quantile(1 - test_share))
    before = t[t < test_from]
    if before.empty:
        raise NpsRiskError(f"nothing to train on before the test period starting {test_from}")
    calib_from = cast(pd.Timestamp, before.quantile(1 - calib_share / (1 - test_share)))
    valid_from = cast(
        pd.Timestamp, before.quantile(1 - (valid_share + calib_share) / (1 - test_share))
    )
    positions = np.arange(len(t))
    split = Split(
        train=positions[(t < valid_from).to_numpy()],
        valid=positions[((t >= valid_from) & (t < calib_from)).to_numpy()],
        calib=positions[((t >= calib_from) & (t < test_from)).to_numpy()],
        test=positions[(t >= test_from).to_numpy()],
        kind="time",
        valid_from=valid_from,
        calib_from=calib_from,
        test_from=test_from,
        time_column=None if times.name is None else str(times.name),
    )
    _check_sizes(split, min_rows, "bring more survey answers or move --test-from")
    return split


def split_by_group(
    ids: pd.Series,
    *,
    test_share: float = 0.2,
    valid_share: float = 0.1,
    calib_share: float = 0.1,
    seed: int = 42,
    min_rows: int = 20,
) -> Split:
    """Without a time, whole ids go to one side: all rows of one id land in one set (a
    random order of the ids, cut where the row shares are reached), so a customer's other
    rows never tell the model about its test rows."""
    keys = ids.astype("str").fillna("(missing)").to_numpy()
    unique, codes = np.unique(keys, return_inverse=True)
    order = np.random.default_rng(seed).permutation(len(unique))
    rank = np.empty(len(unique), dtype=np.int64)
    rank[order] = np.arange(len(unique))
    sizes = np.bincount(codes, minlength=len(unique))[order]  # rows per id, shuffled order
    share_before = (np.cumsum(sizes) - sizes) / len(keys)  # rows before each id, as a share
    cuts = np.cumsum([1 - test_share - valid_share - calib_share, valid_share, calib_share])
    part_of_id = np.searchsorted(cuts, share_before, side="right")  # 0..3 in shuffled order
    part = part_of_id[rank[codes]]
    positions = np.arange(len(keys))
    train, valid, calib, test = (positions[part == i] for i in range(len(PARTS)))
    split = Split(train=train, valid=valid, calib=calib, test=test, kind="grouped")
    _check_sizes(split, min_rows, "bring more rows or name a time column (--time)")
    return split


def _check_sizes(split: Split, min_rows: int, advice: str) -> None:
    for name in PARTS:
        n = len(getattr(split, name))
        if n < min_rows:
            raise NpsRiskError(
                f"the {name} set has {n} rows (at least {min_rows} needed): {advice}"
            )
