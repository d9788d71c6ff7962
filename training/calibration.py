"""Probability calibration fitted on held-out scores only, stored as plain numbers.

Isotonic when the calibration set is large enough to support it, Platt scaling otherwise.
Either map rises with the score, so calibration never reverses the model's ranking.
Stored as arrays so the model file needs no pickled scikit-learn object.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

Method = Literal["auto", "isotonic", "sigmoid"]
ISOTONIC_MIN_ROWS = 1000
TIE_BREAK = 1e-6


@dataclass
class Calibrator:
    method: Method = "auto"

    def fit(self, scores: np.ndarray, y: np.ndarray) -> Calibrator:
        scores = np.asarray(scores, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        method = self.method
        if method == "auto":
            method = "isotonic" if len(y) >= ISOTONIC_MIN_ROWS else "sigmoid"
        self.method_ = method
        if method == "isotonic":
            iso = IsotonicRegression(out_of_bounds="clip", y_min=1e-4, y_max=1 - 1e-4).fit(
                scores, y
            )
            self.x_, self.y_ = _block_centres(
                np.asarray(iso.X_thresholds_), np.asarray(iso.y_thresholds_), scores
            )
        else:
            logit = _logit(scores).reshape(-1, 1)
            lr = LogisticRegression(C=1e6).fit(logit, y)
            slope, intercept = float(lr.coef_[0, 0]), float(lr.intercept_[0])
            if slope < TIE_BREAK:
                # the calibration rows show no rising relation (a model without skill, seen on
                # shuffled labels): a falling map would reverse the model's ranking; like an
                # isotonic plateau, answer their rate and keep the order by a negligible slope
                rate = float(np.clip(y.mean(), 1e-4, 1 - 1e-4))
                slope = TIE_BREAK
                intercept = math.log(rate / (1 - rate)) - slope * float(logit.mean())
            self.x_ = np.array([slope])
            self.y_ = np.array([intercept])
        return self

    def transform(self, scores: np.ndarray) -> np.ndarray:
        scores = np.asarray(scores, dtype=np.float64)
        if self.method_ == "isotonic":
            # + a negligible multiple of the raw score: the map never ties two different scores
            return np.interp(scores, self.x_, self.y_) + TIE_BREAK * scores
        return 1.0 / (1.0 + np.exp(-(self.x_[0] * _logit(scores) + self.y_[0])))

    def to_dict(self) -> dict[str, object]:
        return {"method": self.method_, "x": self.x_.tolist(), "y": self.y_.tolist()}

    @classmethod
    def from_dict(cls, raw: dict[str, object]) -> Calibrator:
        cal = cls(method=raw["method"])  # type: ignore[arg-type]
        cal.method_ = raw["method"]  # type: ignore[assignment]
        cal.x_ = np.asarray(raw["x"], dtype=np.float64)
        cal.y_ = np.asarray(raw["y"], dtype=np.float64)
        return cal


def _block_centres(
    x: np.ndarray, y: np.ndarray, scores: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Knots at the centre of each isotonic block (plus the data's ends), so the map is
    strictly increasing inside the data's range: isotonic's plateaus would tie many scores
    and throw away the model's ranking (seen on small calibration sets: thousands of test
    scores squeezed into a few dozen values)."""
    change = np.flatnonzero(np.diff(y) != 0) + 1
    starts, ends = np.r_[0, change], np.r_[change, len(y)] - 1
    centres = (x[starts] + x[ends]) / 2.0
    values = y[starts]
    knots_x = np.r_[scores.min(), centres, scores.max()]
    knots_y = np.r_[values[0], values, values[-1]]
    keep = np.r_[True, np.diff(knots_x) > 0]  # np.interp needs increasing x
    return knots_x[keep].astype(np.float64), knots_y[keep].astype(np.float64)


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))
