"""Score scales and the Promoter / Passive / Detractor segments.

The scale is configuration, so a CSAT 1-5 source (Detractor = 1-2) runs through the same
code as NPS 0-10.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import pandas as pd

from nps_core.errors import ConfigError


class Segment(StrEnum):
    PROMOTER = "promoter"
    PASSIVE = "passive"
    DETRACTOR = "detractor"


SCALE_KEYS = ("low", "high", "detractor_max", "promoter_min")


@dataclass(frozen=True)
class ScoreScale:
    """Integer scale [low, high]; <= detractor_max is a Detractor, >= promoter_min a Promoter."""

    low: int = 0
    high: int = 10
    detractor_max: int = 6
    promoter_min: int = 9

    def __post_init__(self) -> None:
        if not self.low <= self.detractor_max < self.promoter_min <= self.high:
            raise ConfigError(
                f"score scale needs low <= detractor_max < promoter_min <= high, got "
                f"low={self.low}, detractor_max={self.detractor_max}, "
                f"promoter_min={self.promoter_min}, high={self.high}"
            )

    def on_scale(self, scores: pd.Series) -> pd.Series:
        """True where a score is a whole number inside the scale (NaN is off the scale)."""
        values = pd.to_numeric(scores, errors="coerce").astype("float64")
        whole: pd.Series = np.floor(values) == values
        return values.between(self.low, self.high) & whole

    def classify(self, scores: pd.Series) -> pd.Series:
        """Segment of each score, as a categorical; off-scale scores become NaN."""
        values = pd.to_numeric(scores, errors="coerce").astype("float64")
        labels = np.select(
            [values <= self.detractor_max, values >= self.promoter_min, values.notna()],
            [Segment.DETRACTOR.value, Segment.PROMOTER.value, Segment.PASSIVE.value],
            default=None,  # type: ignore[call-overload]  # numpy's stub omits None (an object array)
        )
        out = pd.Series(labels, index=scores.index, dtype="object")
        out[~self.on_scale(scores)] = None
        return out.astype(pd.CategoricalDtype([s.value for s in Segment]))

    def to_dict(self) -> dict[str, int]:
        """The four bounds by name, as stored in dataset.json and the model's spec."""
        return {key: getattr(self, key) for key in SCALE_KEYS}

    def is_detractor(self, scores: pd.Series) -> pd.Series:
        values = pd.to_numeric(scores, errors="coerce")
        return values <= self.detractor_max


NPS_SCALE = ScoreScale()
CSAT_SCALE = ScoreScale(low=1, high=5, detractor_max=2, promoter_min=4)
