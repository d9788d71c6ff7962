"""The loaded champion, ready to answer: probability, band, reasons and action per customer.

The hot path never builds a DataFrame for precomputed features: values go straight into the
model's numeric matrix. One LightGBM call (``pred_contrib``) gives both the SHAP reasons and
the raw score (their sum), which the stored calibration turns into a probability.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from features.catalog import FeatureInfo, FeatureSpec
from features.online import OnlineCustomer, online_features
from nps_core.errors import NpsRiskError
from nps_core.playbooks import ACTIONS, band_for
from serving.contrib import RowContributions
from training.registry import LoadedModel

SMALL_BATCH = 64


class InputError(NpsRiskError):
    """A request names features the model does not know, or gives a value of the wrong kind."""

    def __init__(self, message: str, loc: list[str | int]) -> None:
        self.loc = loc
        super().__init__(message)


@dataclass(frozen=True)
class Scored:
    customer_id: str
    probability: float
    band: str
    reasons: list[dict[str, Any]]
    action: str


class ServingModel:
    """Immutable once built; a reload builds a new one and swaps the reference."""

    def __init__(self, loaded: LoadedModel) -> None:
        self.loaded = loaded
        self.model = loaded.model
        self.features = list(self.model.features)
        self.position = {name: j for j, name in enumerate(self.features)}
        self.categories = {
            c: {v: i for i, v in enumerate(values)}
            for c, values in self.model.encoder_.categories_.items()
        }
        self.catalog: dict[str, FeatureInfo] = self.model.catalog
        spec = loaded.meta.get("spec")
        self.spec = FeatureSpec.from_dict(spec) if spec else None
        self.history = loaded.history()
        self.booster = self.model.booster_
        self.iterations = self.booster.best_iteration or None
        self.bands = self.model.bands_
        self.row_contributions = RowContributions(self.booster, self.iterations)
        self._smoke_test()

    @property
    def version(self) -> str:
        return self.loaded.version

    def _smoke_test(self) -> None:
        """Refuse a model that cannot answer (corrupt booster, feature count mismatch)."""
        if self.booster.num_feature() != len(self.features):
            raise NpsRiskError(
                f"model {self.version}: booster has {self.booster.num_feature()} features, metadata {len(self.features)}"
            )
        row = np.full((1, len(self.features)), np.nan)
        p, contrib = self.score(row)
        if not (0.0 <= p[0] <= 1.0):
            raise NpsRiskError(
                f"model {self.version}: smoke prediction {p[0]} is not a probability"
            )
        expected = self.booster.predict(row, num_iteration=self.iterations, pred_contrib=True)
        if not np.array_equal(contrib, expected[:, :-1]):
            raise NpsRiskError(
                f"model {self.version}: LightGBM's single-row SHAP values differ from Booster.predict's"
            )

    # --- inputs ------------------------------------------------------------------------
    def matrix_from_features(
        self, rows: Sequence[Mapping[str, Any]], base_loc: list[str | int]
    ) -> np.ndarray:
        nan, position, categories = math.nan, self.position, self.categories
        out = []
        for i, values in enumerate(rows):
            row = [nan] * len(self.features)
            for name, value in values.items():
                j = position.get(name)
                if j is None:
                    raise InputError(
                        f"unknown feature '{name}' (GET /v1/model lists the {len(self.features)} features)",
                        [*base_loc, i, "features", name],
                    )
                if value is None:
                    continue
                lookup = categories.get(name)
                if lookup is not None:
                    code = lookup.get(str(value))
                    row[j] = nan if code is None else code
                elif type(value) is float and value - value == 0.0:  # the common case: finite
                    row[j] = value
                elif isinstance(value, int | float):  # a bool too: True is 1.0
                    number = _finite(value)
                    if number is None:
                        raise InputError(
                            f"feature '{name}' must be a finite number",
                            [*base_loc, i, "features", name],
                        )
                    row[j] = number
                else:
                    raise InputError(
                        f"feature '{name}' is numeric; got {value!r}",
                        [*base_loc, i, "features", name],
                    )
            out.append(row)
        return np.array(out, dtype=np.float64).reshape(len(rows), len(self.features))

    def matrix_from_raw(self, customers: Sequence[OnlineCustomer]) -> np.ndarray:
        if self.spec is None:
            raise InputError(
                "this model was trained on a feature table: send 'features', not raw interactions",
                ["body", "customers"],
            )
        frame = online_features(customers, self.spec, self.history)
        return self.model.encoder_.transform(frame)

    # --- outputs -----------------------------------------------------------------------
    def score(self, matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Calibrated probabilities and SHAP contributions (log-odds), from one call."""
        # one thread for a few rows (the single-row API): a second thread only spins on a
        # 2-core box (measured 4 ms CPU per single-row call against 0.12 ms); big batches
        # use every core
        if len(matrix) == 1:
            contrib = self.row_contributions(matrix[0])[np.newaxis]
        elif len(matrix) <= SMALL_BATCH:
            contrib = np.array([self.row_contributions(row) for row in matrix])
        else:
            contrib = self.booster.predict(
                matrix, num_iteration=self.iterations, pred_contrib=True, num_threads=0
            )
        raw = 1.0 / (1.0 + np.exp(-contrib.sum(axis=1)))
        return self.model.calibrator_.transform(raw), contrib[:, :-1]

    def answer(self, customer_ids: Sequence[str], matrix: np.ndarray, top: int = 3) -> list[Scored]:
        probabilities, contrib = self.score(matrix)
        reasons = self.model.reasons(matrix, contrib, top=top)
        out = []
        high, medium = self.bands["high"], self.bands["medium"]
        for customer_id, p, why in zip(customer_ids, probabilities.tolist(), reasons, strict=True):
            band = band_for(p, high, medium)
            out.append(
                Scored(customer_id, p, band.value, [r.as_dict() for r in why], ACTIONS[band])
            )
        return out


def _finite(value: float) -> float | None:
    """``value`` as a float, or None if it is not finite (or an integer too large for one)."""
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def online_customer(customer: Any) -> OnlineCustomer:
    """A request customer (``CustomerIn``) as the online feature code wants it."""
    as_of = customer.as_of or datetime.now(UTC)
    attributes = customer.attributes.model_dump() if customer.attributes else {}
    return OnlineCustomer(
        customer_id=customer.customer_id,
        as_of=pd.Timestamp(as_of),
        interactions=[i.model_dump() for i in customer.interactions or []],
        surveys=[s.model_dump() for s in customer.surveys or []],
        attributes=attributes,
    )
