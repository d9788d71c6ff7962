"""The model hot path: the loaded champion answers probability, band, reasons and action.

This module owns serving-time model arithmetic, for the API and the daily list alike. The
hot path never builds a DataFrame for precomputed features: values go straight into the
model's numeric matrix. One LightGBM call (``pred_contrib``) gives both the SHAP reasons
and the raw score (their sum), which the stored calibration turns into a probability.

SHAP values of one row come from LightGBM's single-row C API (``...SingleRowFast``):
``Booster.predict`` builds a predictor, parses its parameters and converts its input on
every call, ~20 µs around the ~200 µs of TreeSHAP itself for one row of our model. The
package has no public wrapper for those calls, so its private handle is imported behind a
guard: if a LightGBM release moves it, changes its numbers or the settings turn it off
(``NPS_RISK_FAST_SHAP=false``), rows go through the public ``Booster.predict`` instead,
slower but the same answer.
"""

from __future__ import annotations

import ctypes
import logging
import math
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, cast

import lightgbm as lgb
import numpy as np

from features.catalog import FeatureInfo, FeatureSpec
from features.online import OnlineCustomer, online_features, online_problems
from nps_core.errors import NpsRiskError
from nps_core.playbooks import ACTIONS, band_for
from training.registry import LoadedModel

try:  # LightGBM's own ctypes handle on its library and its error check
    from lightgbm.basic import _LIB, _safe_call  # type: ignore[attr-defined]  # private on purpose
except ImportError:  # pragma: no cover - depends on the LightGBM release
    _LIB = _safe_call = None  # type: ignore[assignment]  # FastRowContributions checks for None

log = logging.getLogger("nps_risk.serving")
SMALL_BATCH = 64


Loc = list[str | int]


class InputError(NpsRiskError):
    """A request names features or fields the model does not know, or gives a value it
    cannot use. ``problems`` lists each one as (where, what, kind); the first is the message."""

    def __init__(
        self, message: str, loc: Loc, *, problems: Sequence[tuple[Loc, str, str]] = ()
    ) -> None:
        self.loc = loc
        self.problems = list(problems) or [(loc, message, "value_error")]
        super().__init__(message)

    @classmethod
    def of(cls, problems: Sequence[tuple[Loc, str, str]]) -> InputError:
        loc, message, _ = problems[0]
        if len(problems) > 1:
            message += f" (and {len(problems) - 1} more, each named in detail)"
        return cls(message, loc, problems=problems)


@dataclass(frozen=True)
class Scored:
    customer_id: str
    probability: float
    band: str
    reasons: list[dict[str, Any]]
    action: str


class ServingModel:
    """Immutable once built; a reload builds a new one and swaps the reference."""

    def __init__(self, loaded: LoadedModel, *, fast_shap: bool = True) -> None:
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
        self.row_contributions = row_contributions(self.booster, self.iterations, fast=fast_shap)
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
        p, _ = self.score(row)
        if not (0.0 <= p[0] <= 1.0):
            raise NpsRiskError(
                f"model {self.version}: smoke prediction {p[0]} is not a probability"
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

    def matrix_from_raw(
        self,
        customers: Sequence[OnlineCustomer],
        base_loc: Sequence[str | int] = (),
        positions: Sequence[int] | None = None,
    ) -> np.ndarray:
        """Rows for customers given as raw interactions; anything the features would not
        read (see ``online_problems``) is refused, located at ``[*base_loc, position, ...]``."""
        if self.spec is None:
            raise InputError(
                "this model was trained on a feature table: send 'features', not raw interactions",
                list(base_loc),
            )
        problems = online_problems(customers, self.spec)
        if problems:
            at = positions if positions is not None else range(len(customers))
            raise InputError.of(
                [([*base_loc, at[p.customer], *p.where], p.message, p.kind) for p in problems]
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
            contrib = cast(  # dense rows in, dense contributions out
                np.ndarray,
                self.booster.predict(
                    matrix, num_iteration=self.iterations, pred_contrib=True, num_threads=0
                ),
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


# --- SHAP values of one row --------------------------------------------------

_PREDICT_CONTRIB = 3  # C_API_PREDICT_CONTRIB in LightGBM's c_api.h
_FLOAT64 = 1  # C_API_DTYPE_FLOAT64


def _free(fast: ctypes.c_void_p, booster: ctypes.c_void_p) -> None:
    _LIB.LGBM_FastConfigFree(fast)
    _LIB.LGBM_BoosterFree(booster)


class RowContributions(Protocol):
    n_features: int

    def __call__(self, row: np.ndarray) -> np.ndarray:
        """SHAP values of ``row`` (one per feature, then the bias), in log-odds."""
        ...


class PublicRowContributions:
    """TreeSHAP for one row through the public ``Booster.predict``: the fallback."""

    def __init__(self, booster: lgb.Booster, num_iteration: int | None) -> None:
        self.n_features = booster.num_feature()
        self._booster = booster
        self._num_iteration = num_iteration

    def __call__(self, row: np.ndarray) -> np.ndarray:
        values = _one_row(row, self.n_features)
        out = cast(  # dense rows in, dense contributions out
            np.ndarray,
            self._booster.predict(
                values[np.newaxis],
                num_iteration=self._num_iteration,
                pred_contrib=True,
                num_threads=1,
            ),
        )
        first: np.ndarray = out[0]
        return first


class FastRowContributions:
    """TreeSHAP for one row at a time, on one thread; safe to call from several threads
    (LightGBM locks its single-row predictor). Holds its own copy of the booster."""

    def __init__(self, booster: lgb.Booster, num_iteration: int | None) -> None:
        if _LIB is None or _safe_call is None:
            raise FastPathUnavailable("this LightGBM has no private library handle")
        self.n_features = booster.num_feature()
        handle, fast, trees = ctypes.c_void_p(), ctypes.c_void_p(), ctypes.c_int()
        model = booster.model_to_string(num_iteration=-1).encode()
        _safe_call(
            _LIB.LGBM_BoosterLoadModelFromString(
                ctypes.c_char_p(model), ctypes.byref(trees), ctypes.byref(handle)
            )
        )
        try:
            _safe_call(
                _LIB.LGBM_BoosterPredictForMatSingleRowFastInit(
                    handle,
                    ctypes.c_int(_PREDICT_CONTRIB),
                    ctypes.c_int(0),  # start iteration
                    ctypes.c_int(num_iteration or -1),  # <= 0: every tree, as Booster.predict
                    ctypes.c_int(_FLOAT64),
                    ctypes.c_int32(self.n_features),
                    ctypes.c_char_p(b"num_threads=1"),
                    ctypes.byref(fast),
                )
            )
        except Exception:
            _LIB.LGBM_BoosterFree(handle)
            raise
        self._fast = fast
        weakref.finalize(self, _free, fast, handle)

    def __call__(self, row: np.ndarray) -> np.ndarray:
        values = _one_row(row, self.n_features)
        out = np.empty(self.n_features + 1, dtype=np.float64)
        length = ctypes.c_int64()
        _safe_call(
            _LIB.LGBM_BoosterPredictForMatSingleRowFast(
                self._fast,
                _address(values),
                ctypes.byref(length),
                _address(out),
            )
        )
        return out


def _address(array: np.ndarray) -> ctypes.c_void_p:
    """Where ``array``'s data starts (``.ctypes.data_as`` costs ~3 us a call)."""
    return ctypes.c_void_p(array.__array_interface__["data"][0])


class FastPathUnavailable(RuntimeError):
    """LightGBM's single-row C API cannot be used with this release."""


def _one_row(row: np.ndarray, n_features: int) -> np.ndarray:
    values = np.ascontiguousarray(row, dtype=np.float64)
    if values.shape != (n_features,):
        raise ValueError(f"expected one row of {n_features} values, got {values.shape}")
    return values


def row_contributions(
    booster: lgb.Booster, num_iteration: int | None, *, fast: bool = True
) -> RowContributions:
    """The fast single-row path when it works and agrees with ``Booster.predict``, else the
    public one: a LightGBM release can slow the API, never take it down."""
    public = PublicRowContributions(booster, num_iteration)
    if not fast:
        return public
    try:
        candidate = FastRowContributions(booster, num_iteration)
        probe = np.full(candidate.n_features, np.nan)
        agrees = np.array_equal(candidate(probe), public(probe))
    except (FastPathUnavailable, AttributeError, OSError, lgb.basic.LightGBMError) as exc:
        log.warning("LightGBM's single-row API is unavailable (%s); using Booster.predict", exc)
        return public
    if not agrees:
        log.warning(
            "LightGBM's single-row SHAP values differ from Booster.predict's; using Booster.predict"
        )
        return public
    return candidate
