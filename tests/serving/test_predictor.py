"""The serving model's hot path gives the model's own numbers, whichever LightGBM call it uses."""

import numpy as np
import pandas as pd
import pytest

from features.dataset import load_dataset
from features.rows import build_training_rows
from serving import predictor
from serving.predictor import (
    SMALL_BATCH,
    FastRowContributions,
    InputError,
    PublicRowContributions,
    ServingModel,
    row_contributions,
)
from training.registry import CHAMPION, load_model


@pytest.fixture(scope="module")
def serving_model(serving_settings) -> ServingModel:
    return ServingModel(load_model(serving_settings, CHAMPION))


@pytest.fixture(scope="module")
def matrix(serving_model, sim_dir) -> np.ndarray:
    """Real rows, plus rows with every value missing, unseen categories and zeros."""
    from features.catalog import FeatureSpec

    data = load_dataset(sim_dir)
    spec = FeatureSpec.from_dict(serving_model.loaded.meta["spec"])
    rows = build_training_rows(data.interactions, data.surveys, data.customers, spec).sample(
        150, random_state=3
    )
    real = serving_model.model.encoder_.transform(rows)
    width = len(serving_model.features)
    return np.vstack([real, np.full((1, width), np.nan), np.zeros((1, width))])


def test_single_row_shap_values_equal_booster_predict(serving_model, matrix):
    booster = serving_model.booster
    expected = booster.predict(
        matrix, num_iteration=serving_model.iterations, pred_contrib=True, num_threads=1
    )
    got = np.array([serving_model.row_contributions(row) for row in matrix])
    np.testing.assert_array_equal(got, expected)
    # the SHAP values add up to the raw score, so the probability comes from the same call
    raw = booster.predict(matrix, num_iteration=serving_model.iterations, raw_score=True)
    np.testing.assert_allclose(got.sum(axis=1), raw, rtol=1e-12, atol=1e-12)


def test_small_and_large_batches_score_the_same(serving_model, matrix):
    assert len(matrix) > SMALL_BATCH  # the whole matrix takes the multi-row path
    p_large, contrib_large = serving_model.score(matrix)
    small = [
        serving_model.score(matrix[i : i + SMALL_BATCH]) for i in range(0, len(matrix), SMALL_BATCH)
    ]
    p_small = np.concatenate([p for p, _ in small])
    contrib_small = np.vstack([c for _, c in small])
    np.testing.assert_array_equal(contrib_small, contrib_large)
    np.testing.assert_array_equal(p_small, p_large)
    np.testing.assert_allclose(p_large, serving_model.model.predict_matrix(matrix), rtol=1e-12)


def test_row_contributions_refuse_a_row_of_the_wrong_width(serving_model):
    with pytest.raises(ValueError, match="expected one row"):
        serving_model.row_contributions(np.zeros(len(serving_model.features) + 1))
    fresh = FastRowContributions(serving_model.booster, serving_model.iterations)
    row = np.zeros(len(serving_model.features))
    np.testing.assert_array_equal(fresh(row), serving_model.row_contributions(row))


@pytest.mark.parametrize(
    ("value", "message"),
    [(float("inf"), "finite"), (10**400, "finite"), ("many", "numeric")],
)
def test_feature_values_that_are_not_finite_numbers_are_input_errors(serving_model, value, message):
    numeric = next(f for f in serving_model.features if f not in serving_model.categories)
    with pytest.raises(InputError, match=message) as caught:
        serving_model.matrix_from_features([{}, {numeric: value}], ["body", "customers"])
    assert caught.value.loc == ["body", "customers", 1, "features", numeric]


def test_feature_values_fill_the_model_row(serving_model):
    numeric = [f for f in serving_model.features if f not in serving_model.categories][:2]
    category = next(iter(serving_model.categories))
    known = next(iter(serving_model.categories[category]))
    matrix = serving_model.matrix_from_features(
        [
            {numeric[0]: 3, numeric[1]: True, category: known},
            {numeric[0]: None, category: "never-seen"},
        ],
        ["body"],
    )
    position = serving_model.position
    assert matrix.shape == (2, len(serving_model.features)) and matrix.dtype == np.float64
    assert matrix[0, position[numeric[0]]] == 3.0 and matrix[0, position[numeric[1]]] == 1.0
    assert matrix[0, position[category]] == serving_model.categories[category][known]
    assert np.isnan(matrix[1]).all()  # missing, unseen and not given are all NaN


def test_the_public_path_gives_the_fast_paths_numbers(serving_model, matrix):
    public = PublicRowContributions(serving_model.booster, serving_model.iterations)
    fast = FastRowContributions(serving_model.booster, serving_model.iterations)
    for row in matrix[:20]:
        np.testing.assert_array_equal(public(row), fast(row))


def test_a_lightgbm_without_the_private_handle_falls_back_to_the_public_path(
    serving_model, monkeypatch, caplog
):
    monkeypatch.setattr(predictor, "_LIB", None)
    chosen = row_contributions(serving_model.booster, serving_model.iterations)
    assert isinstance(chosen, PublicRowContributions)
    assert "single-row API is unavailable" in caplog.text


def test_a_fast_path_that_disagrees_is_not_used(serving_model, monkeypatch, caplog):
    original = FastRowContributions.__call__
    monkeypatch.setattr(FastRowContributions, "__call__", lambda self, row: original(self, row) + 1)
    chosen = row_contributions(serving_model.booster, serving_model.iterations)
    assert isinstance(chosen, PublicRowContributions)
    assert "differ" in caplog.text


def test_settings_can_turn_the_fast_path_off(serving_model):
    slow = ServingModel(serving_model.loaded, fast_shap=False)
    assert isinstance(slow.row_contributions, PublicRowContributions)
    assert isinstance(serving_model.row_contributions, FastRowContributions)
    row = np.zeros((1, len(serving_model.features)))
    np.testing.assert_array_equal(slow.score(row)[0], serving_model.score(row)[0])


def test_the_served_agent_history_leaves_internal_accounts_out(serving_model, sim_dir):
    """The API's agent and team rates come from the history stored with the model at
    training time: built like the batch one, without internal and test accounts."""
    from features.catalog import FeatureSpec
    from features.pipeline import agent_history

    data = load_dataset(sim_dir)
    spec = FeatureSpec.from_dict(serving_model.loaded.meta["spec"])
    expected = agent_history(data.interactions, data.surveys, data.customers, spec)
    nobody_internal = data.customers.assign(is_internal=False)
    everyone = agent_history(data.interactions, data.surveys, nobody_internal, spec)
    assert len(everyone) > len(expected)  # the simulation's test accounts do answer surveys
    pd.testing.assert_frame_equal(
        serving_model.history.reset_index(drop=True),
        expected.reset_index(drop=True),
        check_dtype=False,
    )
