"""The honest baselines every run is reported beside.

- logistic regression in a scikit-learn pipeline (imputation and scaling fitted on the
  training rows only, categories one-hot encoded);
- one rule: the single feature (and direction) that best separates Detractors on the
  training rows, its values mapped to observed rates. The classic 1R, readable by anyone.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler


def logistic_baseline(
    numeric: list[str], categorical: list[str], random_state: int = 42
) -> Pipeline:
    numeric_steps = make_pipeline(
        SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
        StandardScaler(),
    )
    categorical_steps = make_pipeline(
        SimpleImputer(strategy="constant", fill_value="(missing)", keep_empty_features=True),
        OneHotEncoder(handle_unknown="infrequent_if_exist", min_frequency=20, sparse_output=False),
    )
    columns = ColumnTransformer(
        [("numeric", numeric_steps, numeric), ("categorical", categorical_steps, categorical)],
        remainder="drop",
    )
    return Pipeline(
        [
            ("columns", columns),
            ("model", LogisticRegression(C=0.5, max_iter=2000, random_state=random_state)),
        ]
    )


def to_object_categoricals(frame: pd.DataFrame, categorical: list[str]) -> pd.DataFrame:
    """Object columns with None for missing text: what scikit-learn's imputers and MLflow's
    signature inference both want."""
    return frame.assign(
        **{c: frame[c].astype(object).where(frame[c].notna(), None) for c in categorical}
    )


class OneRuleBaseline:
    """Best single numeric feature by training ROC-AUC, turned into rates by quantile bins."""

    def __init__(self, features: list[str], bins: int = 10) -> None:
        self.features = features
        self.bins = bins

    def fit(self, frame: pd.DataFrame, y: np.ndarray) -> OneRuleBaseline:
        best, best_auc, best_sign = self.features[0], -1.0, 1
        for name in self.features:
            x = pd.to_numeric(frame[name], errors="coerce").to_numpy(
                dtype=np.float64, na_value=np.nan
            )
            filled = np.where(np.isnan(x), np.nanmedian(x) if np.isfinite(x).any() else 0.0, x)
            if np.all(filled == filled[0]) or len(np.unique(y)) < 2:
                continue
            auc = roc_auc_score(y, filled)
            if max(auc, 1 - auc) > best_auc:
                best, best_auc, best_sign = name, max(auc, 1 - auc), 1 if auc >= 0.5 else -1
        self.feature_, self.sign_, self.train_auc_ = best, best_sign, best_auc
        x = self._values(frame)
        edges = (
            np.unique(np.nanquantile(x, np.linspace(0, 1, self.bins + 1)[1:-1]))
            if np.isfinite(x).any()
            else np.array([])
        )
        self.edges_ = edges
        codes = self._bin(x)
        prior = float(np.mean(y))
        self.rates_ = np.array(
            [
                (y[codes == b].sum() + 5 * prior) / ((codes == b).sum() + 5)
                for b in range(len(edges) + 2)
            ]
        )
        return self

    def _values(self, frame: pd.DataFrame) -> np.ndarray:
        return pd.to_numeric(frame[self.feature_], errors="coerce").to_numpy(
            dtype=np.float64, na_value=np.nan
        )

    def _bin(self, x: np.ndarray) -> np.ndarray:
        # last bin holds the missing values
        return np.where(
            np.isnan(x), len(self.edges_) + 1, np.searchsorted(self.edges_, x, side="right")
        )

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        return self.rates_[self._bin(self._values(frame))]

    def describe(self) -> str:
        direction = "higher" if self.sign_ > 0 else "lower"
        return (
            f"one rule: {direction} {self.feature_} means riskier (train AUC {self.train_auc_:.3f})"
        )
