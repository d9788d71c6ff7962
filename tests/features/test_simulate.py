"""The simulator: deterministic, contract-shaped, faithful to the survey rules and the story."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

import features.simulate as sim_module
from features.simulate import Simulation, SimulationConfig, simulate, write_simulation
from nps_core.contracts import CONTRACTS
from nps_core.errors import ConfigError

EXPECTED_DTYPE = {
    "str": pd.StringDtype(na_value=np.nan),
    "timestamp": pd.DatetimeTZDtype("ns", "UTC"),
    "float": np.dtype("float64"),
    "int": pd.Int64Dtype(),
    "bool": pd.BooleanDtype(),
}
DAY = pd.Timedelta(days=1)


@pytest.fixture(scope="module")
def small() -> Simulation:
    return simulate(SimulationConfig(customers=400, days=150, seed=7, dirt_rows=0))


@pytest.fixture(scope="module")
def medium() -> Simulation:
    return simulate(SimulationConfig(customers=5000, days=180, seed=3, dirt_rows=0))


def _with_trigger(sim: Simulation) -> pd.DataFrame:
    """Each answer joined to the ticket that triggered it."""
    return sim.surveys.merge(
        sim.interactions, on="interaction_id", how="left", suffixes=("", "_ticket")
    ).assign(detractor=lambda d: d["score"] <= 6)


def test_same_seed_gives_identical_tables() -> None:
    config = SimulationConfig(customers=300, days=60, seed=11)
    first, second = simulate(config), simulate(config)
    for name in ("interactions", "surveys", "customers", "truth"):
        pd.testing.assert_frame_equal(getattr(first, name), getattr(second, name))


def test_different_seed_gives_different_tables() -> None:
    first = simulate(SimulationConfig(customers=300, days=60, seed=1))
    second = simulate(SimulationConfig(customers=300, days=60, seed=2))
    assert not first.interactions.equals(second.interactions)
    assert not first.surveys.equals(second.surveys)
    assert not first.customers.equals(second.customers)


@pytest.mark.parametrize("dirt_rows", [0, None])
def test_columns_and_dtypes_follow_the_contracts(dirt_rows: int | None) -> None:
    sim = simulate(SimulationConfig(customers=300, days=60, seed=5, dirt_rows=dirt_rows))
    for name, contract in CONTRACTS.items():
        frame = getattr(sim, name)
        assert tuple(frame.columns) == contract.names, name
        for column in contract.columns:
            assert frame[column.name].dtype == EXPECTED_DTYPE[column.kind], (name, column.name)
    assert list(sim.truth.columns) == ["response_id", "p_detractor", "cause"]
    assert sim.truth["response_id"].dtype == EXPECTED_DTYPE["str"]
    assert sim.truth["p_detractor"].dtype == np.dtype("float64")


def test_optional_columns_are_filled(small: Simulation) -> None:
    for name, contract in CONTRACTS.items():
        frame = getattr(small, name)
        for column in contract.optional:
            if column == "churned_at":
                assert frame[column].notna().any()
                continue
            assert frame[column].notna().mean() > 0.5, (name, column)


def test_tiny_simulation_still_has_the_contract_shape() -> None:
    sim = simulate(SimulationConfig(customers=1, days=1, seed=0))
    for name, contract in CONTRACTS.items():
        assert tuple(getattr(sim, name).columns) == contract.names
    assert len(sim.customers) == 1
    assert len(sim.truth) == len(sim.surveys)


def test_interactions_are_consistent(small: Simulation) -> None:
    tix = small.interactions
    assert tix["interaction_id"].is_unique
    assert tix["customer_id"].isin(small.customers["customer_id"]).all()
    end = pd.Timestamp("2026-01-01", tz="UTC") + 150 * DAY
    assert (tix["opened_at"] >= pd.Timestamp("2026-01-01", tz="UTC")).all()
    assert (tix["opened_at"] < end).all()
    responded = tix["first_response_at"].notna()
    assert (tix.loc[responded, "first_response_at"] > tix.loc[responded, "opened_at"]).all()
    resolved = tix["resolved_at"].notna()
    assert (tix.loc[resolved, "resolved_at"] > tix.loc[resolved, "first_response_at"]).all()
    assert (tix.loc[resolved, "resolved_at"] < end).all()
    assert (~resolved).any(), "some tickets must still be open at the end"
    assert tix["sentiment"].between(-1, 1).all()
    assert set(tix["channel"]) == {"chat", "email", "phone", "social"}
    assert tix["team"].nunique() == 6
    assert 40 <= tix["agent_id"].nunique() <= 60
    assert (tix["contacts"] > 1).any()
    assert not tix.loc[tix["contacts"] > 1, "first_contact_resolved"].any()
    assert not tix.loc[~resolved, "first_contact_resolved"].any()


def test_first_response_delay_depends_on_the_channel(medium: Simulation) -> None:
    tix = medium.interactions
    delay = (tix["first_response_at"] - tix["opened_at"]).dt.total_seconds()
    median = delay.groupby(tix["channel"]).median()
    assert median["phone"] < median["chat"] < 600 < 3600 < median["email"]


def test_every_answer_follows_the_resolution_of_its_ticket(small: Simulation) -> None:
    joined = _with_trigger(small)
    assert joined["resolved_at"].notna().all()
    assert (joined["customer_id"] == joined["customer_id_ticket"]).all()
    assert (joined["channel"] == joined["channel_ticket"]).all()
    assert (joined["responded_at"] > joined["opened_at"]).all()
    assert (joined["responded_at"] > joined["resolved_at"]).all()
    assert (joined["responded_at"] - joined["resolved_at"] < DAY).all()


def test_at_most_one_answer_per_customer_per_30_days(medium: Simulation) -> None:
    surveys = medium.surveys.sort_values(["customer_id", "responded_at"])
    gap = surveys.groupby("customer_id")["responded_at"].diff().dropna()
    assert len(gap) > 0
    assert (gap >= pd.Timedelta(days=30)).all()


def test_internal_accounts_exist_and_behave_like_customers(medium: Simulation) -> None:
    internal = medium.customers.loc[medium.customers["is_internal"], "customer_id"]
    assert 0.005 < len(internal) / len(medium.customers) < 0.02
    assert medium.interactions["customer_id"].isin(internal).any()
    assert medium.surveys["customer_id"].isin(internal).any()


def test_customers_are_plausible(medium: Simulation) -> None:
    customers = medium.customers
    assert customers["customer_id"].is_unique
    assert set(customers["segment"]) == {"consumer", "smb", "enterprise"}
    start = pd.Timestamp("2026-01-01", tz="UTC")
    assert (customers["signup_at"] < start).mean() > 0.7
    assert (customers["signup_at"] >= start).any()
    first_contact = medium.interactions.groupby("customer_id")["opened_at"].min()
    signup = customers.set_index("customer_id")["signup_at"]
    assert (first_contact >= signup.reindex(first_contact.index)).all()
    churned = customers.dropna(subset=["churned_at"]).set_index("customer_id")["churned_at"]
    last_contact = medium.interactions.groupby("customer_id")["opened_at"].max()
    assert (churned > signup.reindex(churned.index)).all()
    assert (churned > last_contact.reindex(churned.index).fillna(start - 9999 * DAY)).all()


def test_detractors_churn_more(medium: Simulation) -> None:
    detractors = set(medium.surveys.loc[medium.surveys["score"] <= 6, "customer_id"])
    answered = set(medium.surveys["customer_id"])
    churned = medium.customers.set_index("customer_id")["churned_at"].notna()
    assert churned[list(detractors)].mean() > churned[list(answered - detractors)].mean()


def test_truth_has_one_probability_per_answer(small: Simulation) -> None:
    truth = small.truth
    assert len(truth) == len(small.surveys)
    assert truth["response_id"].tolist() == small.surveys["response_id"].tolist()
    assert truth["p_detractor"].between(0, 1, inclusive="neither").all()


def test_scores_are_on_the_scale_and_realistic(medium: Simulation) -> None:
    score = medium.surveys["score"]
    assert score.between(0, 10).all()
    detractor, promoter = (score <= 6).mean(), (score >= 9).mean()
    assert 0.15 < detractor < 0.40
    assert promoter > detractor
    assert set(score.unique()) == set(range(11))


def test_truth_separates_detractors_but_not_perfectly(medium: Simulation) -> None:
    label = medium.surveys["score"] <= 6
    auc = roc_auc_score(label, medium.truth["p_detractor"])
    assert 0.65 < auc < 0.95
    # calibrated by construction: the mean probability matches the observed share
    assert abs(medium.truth["p_detractor"].mean() - label.mean()) < 0.03


def test_trouble_makes_detractors(medium: Simulation) -> None:
    joined = _with_trigger(medium)
    rate = joined.groupby("escalated")["detractor"].mean()
    assert rate[True] > rate[False] + 0.1
    rate = joined.groupby("first_contact_resolved")["detractor"].mean()
    assert rate[False] > rate[True] + 0.1
    rate = joined.groupby(joined["transfers"] >= 2)["detractor"].mean()
    assert rate[True] > rate[False]
    promoter = (joined["score"] >= 9).groupby(joined["first_contact_resolved"]).mean()
    assert promoter[True] > promoter[False]


def test_weak_teams_are_measurably_worse(medium: Simulation) -> None:
    first = medium.interactions[medium.interactions["contacts"] == 1]
    fcr = first.groupby("team")["first_contact_resolved"].mean()
    assert fcr["social"] < fcr["general"] - 0.05
    assert fcr["technical"] < fcr["billing"] - 0.05


def test_comments_match_the_score(medium: Simulation) -> None:
    surveys = medium.surveys.dropna(subset=["comment"])
    assert 0.4 < len(surveys) / len(medium.surveys) < 0.9
    promoters = surveys.loc[surveys["score"] >= 9, "comment"]
    detractors = surveys.loc[surveys["score"] <= 6, "comment"]
    assert set(promoters).isdisjoint(set(detractors))
    assert detractors.str.contains("wait|transfer|not|again|rude", case=False).mean() > 0.3


def test_each_comment_tells_of_its_recorded_cause(medium: Simulation) -> None:
    """The cause in truth is the experience behind the score: a Detractor's comes from the
    triggering ticket (four in five), a Promoter's is praise; each text is one of its cause's."""
    from features.simulate.comments import _CORES, CAUSES

    answers = medium.surveys.merge(medium.truth, on="response_id")
    assert set(answers["cause"]) <= set(CAUSES)
    assert (answers.loc[answers["score"] >= 9, "cause"] == "praise").all()
    assert not (answers.loc[answers["score"] <= 8, "cause"] == "praise").any()
    tickets = medium.interactions.drop_duplicates("interaction_id").set_index("interaction_id")
    detractors = answers[answers["score"] <= 6].merge(
        tickets, left_on="interaction_id", right_index=True, how="left", suffixes=("", "_t")
    )
    unfixed = detractors["resolved_at"].isna() | ~detractors["first_contact_resolved"].astype(bool)
    assert (detractors.loc[unfixed, "cause"] == "unresolved").mean() > 0.3
    with_comment = answers.dropna(subset=["comment"])
    for cause, texts in with_comment.groupby("cause")["comment"]:
        starts = "|".join(
            re.escape(c.lower()[:6]) for (k, _), cs in _CORES.items() if k == cause for c in cs
        )
        assert texts.str.lower().str.contains(starts).mean() > 0.8, cause


def test_truth_uses_only_what_happened_before_the_answer() -> None:
    """Rewriting every ticket opened after a cut-off leaves earlier answers' risk unchanged."""
    config = SimulationConfig(customers=500, days=120, seed=4)
    end = config.days * 86_400
    rng = np.random.default_rng(0)
    cust = sim_module._draw_customers(config, end, rng)
    agents = sim_module._draw_agents(rng)
    tix = sim_module._draw_interactions(cust, agents, end, rng)
    closed = np.flatnonzero(~tix["open_at_end"])
    at = tix["resolved"][closed] + 3_600
    cut = end // 2
    early = closed[at <= cut]
    at_early = at[at <= cut]
    c = tix["c"][early]

    future = tix["opened"] >= cut
    late_close = ~tix["open_at_end"] & (tix["resolved"] >= cut)
    altered = dict(tix)
    altered["fixed"] = tix["fixed"] & ~future
    altered["escalated"] = tix["escalated"] | future
    altered["sentiment"] = np.where(future, -1.0, tix["sentiment"])
    altered["contacts"] = np.where(future, 4, tix["contacts"])
    altered["resolved"] = np.where(late_close, tix["resolved"] + 10 * 86_400, tix["resolved"])

    _, before = sim_module._risk_terms(cust, agents, tix, c, early, at_early)
    _, after = sim_module._risk_terms(cust, agents, altered, c, early, at_early)
    assert early.size > 100
    np.testing.assert_allclose(before, after, rtol=1e-9, atol=1e-12)

    late = at > cut
    later, at_later = closed[late], at[late]
    _, before = sim_module._risk_terms(cust, agents, tix, tix["c"][later], later, at_later)
    _, after = sim_module._risk_terms(cust, agents, altered, tix["c"][later], later, at_later)
    assert not np.allclose(before, after), "the altered future must matter once it is the past"


def test_no_dirt_when_none_is_asked(small: Simulation) -> None:
    assert small.interactions["interaction_id"].is_unique
    assert small.interactions["customer_id"].notna().all()
    assert small.interactions["sentiment"].between(-1, 1).all()
    resolved = small.interactions.dropna(subset=["resolved_at"])
    assert (resolved["resolved_at"] >= resolved["opened_at"]).all()
    assert small.surveys["score"].between(0, 10).all()


def test_dirt_is_injected_on_request_and_the_clean_part_is_unchanged() -> None:
    clean = simulate(SimulationConfig(customers=300, days=90, seed=9, dirt_rows=0))
    dirty = simulate(SimulationConfig(customers=300, days=90, seed=9, dirt_rows=12))
    n_tix, n_surveys = len(clean.interactions), len(clean.surveys)
    assert len(dirty.interactions) - n_tix + len(dirty.surveys) - n_surveys == 12
    pd.testing.assert_frame_equal(dirty.interactions.iloc[:n_tix], clean.interactions)
    pd.testing.assert_frame_equal(dirty.surveys.iloc[:n_surveys], clean.surveys)
    pd.testing.assert_frame_equal(dirty.customers, clean.customers)

    tix = dirty.interactions.iloc[n_tix:]
    assert tix["interaction_id"].isin(clean.interactions["interaction_id"]).sum() == 2
    assert (tix["resolved_at"] < tix["opened_at"]).sum() == 2
    assert tix["customer_id"].isna().sum() == 2
    assert (tix["sentiment"] == 3.0).sum() == 2
    scores = dirty.surveys["score"].iloc[n_surveys:]
    assert sorted(scores.tolist()) == [-1, -1, 11, 11]
    assert dirty.surveys["response_id"].is_unique
    assert len(dirty.truth) == len(dirty.surveys)
    assert dirty.truth["response_id"].tolist() == dirty.surveys["response_id"].tolist()


def test_default_dirt_is_small_but_present() -> None:
    clean = simulate(SimulationConfig(customers=500, days=90, seed=2, dirt_rows=0))
    default = simulate(SimulationConfig(customers=500, days=90, seed=2))
    extra = len(default.interactions) - len(clean.interactions)
    extra += len(default.surveys) - len(clean.surveys)
    rows = len(clean.interactions) + len(clean.surveys)
    assert 6 <= extra <= max(6, rows // 500)


def test_write_simulation_round_trips(tmp_path: Path) -> None:
    sim = simulate(SimulationConfig(customers=200, days=60, seed=6))
    paths = write_simulation(sim, tmp_path / "out")
    assert sorted(p.name for p in paths) == [
        "customers.parquet",
        "interactions.parquet",
        "surveys.parquet",
        "truth.parquet",
    ]
    for path in paths:
        pd.testing.assert_frame_equal(pd.read_parquet(path), getattr(sim, path.stem))


@pytest.mark.parametrize(
    "bad",
    [
        {"customers": 0},
        {"days": 0},
        {"seed": -1},
        {"internal_share": 1.5},
        {"dirt_rows": -1},
        {"start": "not a date"},
        {"outreach_effect": float("nan")},
    ],
)
def test_bad_config_is_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        SimulationConfig(**bad)  # type: ignore[arg-type]


def test_start_sets_the_calendar() -> None:
    sim = simulate(SimulationConfig(customers=100, days=30, seed=1, start="2025-03-10"))
    assert sim.interactions["opened_at"].min() >= pd.Timestamp("2025-03-10", tz="UTC")
    assert sim.interactions["opened_at"].max() < pd.Timestamp("2025-04-09", tz="UTC")
