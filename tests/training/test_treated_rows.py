"""Training learns untreated risk by default: answers given after our own outreach are left
out, and the choice and the counts are logged with the run."""

import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

from features.dataset import load_dataset
from training.workflow import train_from_data


def _calls_before_answers(sim_dir, share: float = 0.3) -> pd.DataFrame:
    """A call two days before every answer of a random share of customers, recorded at once."""
    surveys = load_dataset(sim_dir).surveys
    rng = np.random.default_rng(0)
    ids = surveys["customer_id"].unique()
    called = set(rng.choice(ids, size=int(len(ids) * share), replace=False))
    answers = surveys[surveys["customer_id"].isin(called)]
    when = answers["responded_at"] - pd.Timedelta(days=2)
    return pd.DataFrame(
        {
            "customer_id": answers["customer_id"].to_numpy(),
            "contacted_at": when.to_numpy(),
            "recorded_at": when.to_numpy(),
            "outcome": "reached",
        }
    )


@pytest.mark.slow
def test_treated_rows_are_left_out_by_default_and_logged(settings, sim_dir):
    contacts = _calls_before_answers(sim_dir)
    outcome = train_from_data(settings, sim_dir, contacts=contacts)
    counts = outcome.metrics_json["treatment"]
    assert counts["treated_rows"] == "exclude"
    assert counts["rows_treated"] > 0.2 * counts["rows_answered"]
    assert counts["rows_treated_excluded"] == counts["rows_treated"]
    split = outcome.metrics_json["split"]
    used = sum(split[f"rows_{part}"] for part in ("train", "valid", "calib", "test"))
    assert used == counts["rows_answered"] - counts["rows_treated"]
    treated_ids = set(contacts["customer_id"])
    assert not set(outcome.result.test_rows["customer_id"]) & treated_ids

    client = MlflowClient(tracking_uri=settings.tracking_uri)
    run = client.get_run(outcome.logged.run_id)
    assert run.data.params["treated_rows"] == "exclude"
    assert run.data.metrics["rows_treated"] == counts["rows_treated"]
    assert run.data.metrics["rows_treated_excluded"] == counts["rows_treated"]

    included = train_from_data(settings, sim_dir, contacts=contacts, treated="include")
    split = included.metrics_json["split"]
    used = sum(split[f"rows_{part}"] for part in ("train", "valid", "calib", "test"))
    assert used == counts["rows_answered"]
    assert included.metrics_json["treatment"]["rows_treated_excluded"] == 0
    assert client.get_run(included.logged.run_id).data.params["treated_rows"] == "include"
