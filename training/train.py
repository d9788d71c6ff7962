"""Fit the Detractor model and its baselines on one split, and evaluate all three honestly.

Pure of MLflow: returns a ``TrainResult`` that the registry logs and the report draws.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from features.catalog import FeatureInfo
from training.baselines import OneRuleBaseline, logistic_baseline, to_object_categoricals
from training.metrics import (
    calibration_table,
    evaluate,
    evaluate_by,
    lift_by_decile,
    list_days,
    paired_auc_difference,
)
from training.model import DetractorModel, LgbmParams
from training.split import Split

MODEL_NAMES = ("lightgbm", "logistic", "one_rule")


@dataclass
class TrainResult:
    model: DetractorModel
    split: Split
    features: list[str]
    categorical: list[str]
    test_rows: pd.DataFrame  # keys, label, group columns and features of the test period
    predictions: dict[str, np.ndarray]  # model name -> test probabilities
    metrics: dict[str, dict[str, float]]  # model name -> test metrics
    by_group: dict[str, pd.DataFrame]  # "channel"/"segment" -> metrics of the LightGBM model
    drivers: pd.DataFrame  # mean |SHAP| per feature on the test period
    calibration: pd.DataFrame
    deciles: pd.DataFrame
    valid_metrics: dict[str, float]  # LightGBM on the early-stopping rows (optimistic)
    baseline_notes: dict[str, str] = field(default_factory=dict)
    # baseline name -> DeLong's paired test of LightGBM minus it, on the test rows
    comparisons: dict[str, dict[str, float]] = field(default_factory=dict)
    truth_auc: float | None = None  # AUC of the simulator's true probabilities, when known

    def headline(self) -> dict[str, Any]:
        m = self.metrics["lightgbm"]
        return {
            k: m[k]
            for k in (
                "roc_auc",
                "roc_auc_low",
                "roc_auc_high",
                "pr_auc",
                "brier",
                "log_loss",
                "ece",
            )
        }


def fit_and_evaluate(
    rows: pd.DataFrame,
    y: np.ndarray,
    split: Split,
    features: list[str],
    categorical: list[str],
    *,
    catalog: dict[str, FeatureInfo] | None = None,
    params: LgbmParams | None = None,
    k: int = 50,
    day_column: str | None = None,
    group_columns: tuple[str, ...] = ("channel", "segment"),
    keep_columns: tuple[str, ...] = (),
) -> TrainResult:
    """Everything is fitted on ``split.train`` (the model's early stopping on ``split.valid``,
    its calibration and bands on ``split.calib``); the test period is only ever scored.
    ``day_column`` holds each row's as-of time: its day is the row's list day, on which
    precision and recall at k (the daily capacity) are computed."""
    params = params or LgbmParams()
    train, valid, calib, test = (
        rows.iloc[idx].reset_index(drop=True)
        for idx in (split.train, split.valid, split.calib, split.test)
    )
    y_train, y_valid, y_calib, y_test = (
        y[idx] for idx in (split.train, split.valid, split.calib, split.test)
    )
    if len(np.unique(y_train)) < 2:
        from nps_core.errors import NpsRiskError

        raise NpsRiskError("the training period holds only one class: nothing to learn")

    model = DetractorModel(features, categorical, catalog, params).fit(
        train, y_train, valid, y_valid, calib, y_calib
    )
    numeric = [f for f in features if f not in categorical]
    logistic = logistic_baseline(numeric, categorical, params.random_state)
    logistic.fit(to_object_categoricals(train[features], categorical), y_train)
    one_rule = OneRuleBaseline(numeric or features).fit(train, y_train)

    predictions = {
        "lightgbm": model.predict_proba(test),
        "logistic": logistic.predict_proba(to_object_categoricals(test[features], categorical))[
            :, 1
        ],
        "one_rule": one_rule.predict_proba(test),
    }
    days = None if day_column is None else list_days(test[day_column])
    metrics = {name: evaluate(y_test, p, k=k, days=days) for name, p in predictions.items()}
    p_model = predictions["lightgbm"]
    comparisons = {
        name: paired_auc_difference(y_test, p_model, p)
        for name, p in predictions.items()
        if name != "lightgbm"
    }
    by_group = {
        g: evaluate_by(test, y_test, p_model, g, k=k, days=days)
        for g in group_columns
        if g in test.columns and test[g].notna().any()
    }
    matrix = model.encoder_.transform(test)
    shap = np.abs(model.contributions(matrix)).mean(axis=0)
    drivers = pd.DataFrame(
        {
            "feature": features,
            "mean_abs_shap": shap,
            "description": [
                (catalog or {})[f].description if f in (catalog or {}) else f for f in features
            ],
        }
    ).sort_values("mean_abs_shap", ascending=False, ignore_index=True)
    # the split's time stays with the test rows: promotion keeps only rows newer than both
    # models' training data
    own = [c for c in (split.time_column, day_column) if c]
    keep = [
        c
        for c in dict.fromkeys([*keep_columns, *own, *group_columns])
        if c in test.columns and c not in features
    ]
    test_rows = pd.concat([test[keep], test[features]], axis=1).assign(label=y_test)
    return TrainResult(
        model=model,
        split=split,
        features=features,
        categorical=categorical,
        test_rows=test_rows,
        predictions=predictions,
        metrics=metrics,
        by_group=by_group,
        drivers=drivers,
        calibration=calibration_table(y_test, p_model),
        deciles=lift_by_decile(y_test, p_model),
        valid_metrics=evaluate(
            y_valid,
            model.predict_proba(valid),
            k=k,
            days=None if day_column is None else list_days(valid[day_column]),
        ),
        baseline_notes={
            "one_rule": one_rule.describe(),
            "logistic": "logistic regression, median-imputed and scaled numerics, one-hot categories",
        },
        comparisons=comparisons,
    )
