"""SHAP values of one row through LightGBM's single-row C API (``...SingleRowFast``).

``Booster.predict`` builds a predictor, parses its parameters and converts its input on
every call: ~20 µs around the ~200 µs of TreeSHAP itself for one row of our model, a
quarter of what /v1/predict spends besides TreeSHAP. The fast API does that once per
model. It gives the same numbers as ``Booster.predict(pred_contrib=True)``; a test and
``ServingModel``'s load-time check hold it to that.
"""

from __future__ import annotations

import ctypes
import weakref

import lightgbm as lgb
import numpy as np

# LightGBM's own ctypes handle on its library and its error check (the package has no
# public wrapper for the single-row calls)
from lightgbm.basic import _LIB, _safe_call

_PREDICT_CONTRIB = 3  # C_API_PREDICT_CONTRIB in LightGBM's c_api.h
_FLOAT64 = 1  # C_API_DTYPE_FLOAT64


def _free(fast: ctypes.c_void_p, booster: ctypes.c_void_p) -> None:
    _LIB.LGBM_FastConfigFree(fast)
    _LIB.LGBM_BoosterFree(booster)


class RowContributions:
    """TreeSHAP for one row at a time, on one thread; safe to call from several threads
    (LightGBM locks its single-row predictor). Holds its own copy of the booster."""

    def __init__(self, booster: lgb.Booster, num_iteration: int | None) -> None:
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
        """SHAP values of ``row`` (one per feature, then the bias), in log-odds."""
        values = np.ascontiguousarray(row, dtype=np.float64)
        if values.shape != (self.n_features,):
            raise ValueError(f"expected one row of {self.n_features} values, got {values.shape}")
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
