"""Invariance (STYLE.md, behavioural model tests): the customer id changes nothing.

Every customer renamed (consistently, across the three tables, in an order unrelated to the
old one) gives the same features, the same model and the same probabilities, in training
rows and in the daily snapshot alike.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest

from features.catalog import feature_catalog
from features.dataset import load_dataset
from features.rows import build_training_rows, learn_spec, snapshot_as_of
from training.model import DetractorModel, LgbmParams
from training.split import split_by_time


def _rename(ids: pd.Series) -> pd.Series:
    """A new name per customer whose sort order has nothing to do with the old one."""
    return ids.map(lambda c: "cust-" + hashlib.sha256(str(c).encode()).hexdigest()[:12]).astype(
        ids.dtype
    )


@pytest.fixture(scope="module")
def both(sim_dir):
    data = load_dataset(sim_dir)
    tables = (data.interactions, data.surveys, data.customers)
    renamed = [t.assign(customer_id=_rename(t["customer_id"])) for t in tables]
    spec = learn_spec(data.interactions, data.scale)
    return data, renamed, spec


def _fit(rows: pd.DataFrame, features: list[str], categorical: list[str], catalog):
    split = split_by_time(rows["responded_at"])
    y = rows["is_detractor"].to_numpy()
    part = {n: rows.iloc[getattr(split, n)] for n in ("train", "valid", "calib")}
    model = DetractorModel(
        features, categorical, catalog, LgbmParams(max_rounds=80, num_threads=1)
    ).fit(
        part["train"],
        y[split.train],
        part["valid"],
        y[split.valid],
        part["calib"],
        y[split.calib],
    )
    return model, split


def test_renaming_customers_changes_no_feature_and_no_probability(both):
    data, (interactions, surveys, customers), spec = both
    catalog = feature_catalog(spec)
    features = list(catalog)
    categorical = [f for f in features if catalog[f].kind == "categorical"]
    rows_a = build_training_rows(data.interactions, data.surveys, data.customers, spec)
    rows_b = build_training_rows(interactions, surveys, customers, spec)
    assert (rows_a["customer_id"] != rows_b["customer_id"]).all()
    by_answer = rows_b.set_index("response_id").loc[rows_a["response_id"]].reset_index()
    pd.testing.assert_frame_equal(rows_a[features], by_answer[features])

    model_a, split = _fit(rows_a, features, categorical, catalog)
    model_b, _ = _fit(by_answer, features, categorical, catalog)
    test_a, test_b = rows_a.iloc[split.test], by_answer.iloc[split.test]
    p = model_a.predict_proba(test_a)
    np.testing.assert_array_equal(model_a.predict_proba(test_b), p)  # scoring
    np.testing.assert_array_equal(model_b.predict_proba(test_b), p)  # training

    as_of = rows_a["responded_at"].iloc[split.test[0]].floor("D")
    snap_a = snapshot_as_of(data.interactions, data.surveys, data.customers, as_of, spec)
    snap_b = snapshot_as_of(interactions, surveys, customers, as_of, spec)
    renamed = dict(zip(data.customers["customer_id"], customers["customer_id"], strict=True))
    snap_b = snap_b.set_index("customer_id").loc[snap_a["customer_id"].map(renamed)]
    assert len(snap_a) > 100
    np.testing.assert_array_equal(model_a.predict_proba(snap_b), model_a.predict_proba(snap_a))
