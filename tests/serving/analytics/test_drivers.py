"""Drivers for coaching: the plain association table equals a recomputation by hand, the
simulator's known causes show up in it, teams are compared with the rest, and the model's
SHAP by family adds up to its own log-odds."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from features.dataset import load_dataset
from serving.analytics.drivers import ASSOCIATIONS, drivers_dict, drivers_report


@pytest.fixture(scope="module")
def data(sim_dir):
    return load_dataset(sim_dir)


def _by_hand(data) -> pd.DataFrame:
    internal = set(data.customers.loc[data.customers["is_internal"].eq(True), "customer_id"])
    answers = data.surveys[~data.surveys["customer_id"].isin(internal)]
    tickets = data.interactions.drop_duplicates("interaction_id")
    joined = answers.merge(tickets, on="interaction_id", how="left", suffixes=("", "_ticket"))
    joined["channel"] = joined["channel"].fillna(joined["channel_ticket"])
    delay = (joined["first_response_at"] - joined["opened_at"]).dt.total_seconds()
    q75 = delay.groupby(joined["channel"]).transform(lambda d: d.quantile(0.75))
    return pd.DataFrame(
        {
            "team": joined["team"].fillna("(unknown)"),
            "detractor": (joined["score"] <= 6).astype(int),
            "first_contact_failed": joined["first_contact_resolved"].map(
                lambda v: None if pd.isna(v) else not v
            ),
            "slow_first_response": np.where(delay.isna(), None, delay > q75),
            "transferred": joined["transfers"].map(lambda v: None if pd.isna(v) else v >= 1),
        }
    )


def test_the_association_table_equals_a_recomputation(data):
    report = drivers_dict(drivers_report(data))
    hand = _by_hand(data)
    assert report["answers"] == len(hand) and report["detractors"] == hand["detractor"].sum()
    for row in report["associations"]:
        known = hand[hand[row["behaviour"]].notna()]
        with_it = known[known[row["behaviour"]].astype(bool)]
        without = known[~known[row["behaviour"]].astype(bool)]
        assert row["with"]["n"] == len(with_it) and row["without"]["n"] == len(without)
        assert row["with"]["rate"] == pytest.approx(with_it["detractor"].mean())
        assert row["without"]["rate"] == pytest.approx(without["detractor"].mean())
        for group in ("with", "without"):
            assert row[group]["ci_low"] <= row[group]["rate"] <= row[group]["ci_high"]
        assert row["difference"] == pytest.approx(row["with"]["rate"] - row["without"]["rate"])
        assert row["difference_ci_low"] <= row["difference"] <= row["difference_ci_high"]
        assert row["label"] == ASSOCIATIONS[row["behaviour"]][0]


def test_the_simulated_causes_of_detractors_show_in_the_table(data):
    """The simulator raises Detractor risk when a ticket is not fixed or is transferred."""
    rows = {r["behaviour"]: r for r in drivers_dict(drivers_report(data))["associations"]}
    assert rows["first_contact_failed"]["difference_ci_low"] > 0.05
    assert rows["transferred"]["difference_ci_low"] > 0.05
    assert rows["slow_first_response"]["difference_ci_low"] > 0


def test_every_team_is_compared_with_the_rest_for_coaching(data):
    report = drivers_dict(drivers_report(data))
    hand = _by_hand(data)
    assert [t["team"] for t in report["teams"]] == sorted(hand["team"].unique())
    for team in report["teams"]:
        mine = hand["team"] == team["team"]
        assert team["team_rate"]["n"] == mine.sum()
        assert team["rest_rate"]["n"] == (~mine).sum()
        assert team["team_rate"]["rate"] == pytest.approx(hand.loc[mine, "detractor"].mean())
        assert team["coaching"].startswith(f"{team['team_rate']['rate']:.0%} of {team['team']}'s")
        assert "not a verdict" in team["coaching"]
        if team["focus"] is not None:
            share = next(b for b in team["behaviour_shares"] if b["behaviour"] == team["focus"])
            assert share["difference_ci_low"] > 0
    # the simulator's weak teams (lower first-contact resolution) stand out
    weak = {t["team"]: t for t in report["teams"]}
    assert weak["technical"]["difference_ci_low"] > 0 and weak["social"]["difference"] > 0


def test_one_team_is_its_own_answers_and_an_unknown_team_is_refused(data):
    report = drivers_dict(drivers_report(data, team="billing"))
    hand = _by_hand(data)
    assert report["team"] == "billing" and report["answers"] == (hand["team"] == "billing").sum()
    with pytest.raises(ValueError, match="'nobody'"):
        drivers_report(data, team="nobody")


def test_mean_shap_by_family_adds_up_to_the_models_log_odds(data, serving_settings):
    from features.rows import build_training_rows
    from serving.api.state import build_serving_model

    model = build_serving_model(serving_settings)
    report = drivers_report(data, model)
    shap = report.shap
    assert shap is not None and report.model["version"] == model.version
    rows = build_training_rows(data.interactions, data.surveys, data.customers, model.spec)
    matrix = model.model.encoder_.transform(rows)
    raw = model.booster.predict(matrix, num_iteration=model.iterations, raw_score=True)
    bias = model.booster.predict(matrix[:1], num_iteration=model.iterations, pred_contrib=True)[0][
        -1
    ]
    assert shap["mean_shap"].sum() + bias == pytest.approx(raw.mean(), abs=1e-6)
    assert shap["mean_abs_shap"].is_monotonic_decreasing
    assert shap.loc[shap["family"] == "fcr", "behaviour"].all()
    team = drivers_report(data, model, team="technical").shap
    assert (team["difference"] == team["mean_shap"] - team["rest_mean_shap"]).all()
    as_json = drivers_dict(drivers_report(data, model, team="technical"))
    assert json.loads(json.dumps(as_json))["shap"][0]["rest_mean_shap"] is not None


def test_the_command_without_a_champion_still_gives_the_table(
    sim_dir, tmp_path, monkeypatch, capsys
):
    from nps_core.config import get_settings
    from serving.cli import main as cli

    monkeypatch.setenv("NPS_RISK_HOME", str(tmp_path))
    get_settings.cache_clear()
    try:
        code = cli(
            [
                "drivers",
                "--data",
                str(sim_dir),
                "--team",
                "social",
                "--json",
                str(tmp_path / "d.json"),
            ]
        )
        bad = cli(["drivers", "--data", str(sim_dir), "--team", "nobody"])
    finally:
        get_settings.cache_clear()
    assert code == 0 and bad == 2
    captured = capsys.readouterr()
    assert "no model's view (SHAP)" in captured.out and "slow" in captured.out
    written = json.loads((tmp_path / "d.json").read_text())
    assert written["shap"] is None and written["team"] == "social"
    assert (tmp_path / "d-teams.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert captured.err.strip().endswith(
        "teams: accounts, billing, enterprise, general, social, technical"
    )
