"""`impact` recovers a known outreach effect from simulated later answers."""

from datetime import UTC, date, datetime

import numpy as np
import pandas as pd

from nps_core.scale import NPS_SCALE
from serving.lists.impact import estimate_impact
from serving.lists.store import open_store, record_outreach, replace_list

LIST_DAY = date(2026, 5, 4)


def _simulate(store_url: str, n: int, p_control: float, p_treated: float, seed: int):
    """n flagged customers, a fifth held out; later answers with known Detractor chances."""
    rng = np.random.default_rng(seed)
    ids = [f"c{i}" for i in range(n)]
    control = rng.uniform(size=n) < 0.2
    scores = pd.DataFrame(
        {
            "list_date": LIST_DAY,
            "customer_id": ids,
            "rank": np.arange(1, n + 1),
            "probability": np.linspace(0.9, 0.5, n),
            "band": "high",
            "grp": np.where(control, "control", "treatment"),
            "flagged": True,
            "reasons": None,
            "action": "call",
            "owner_team": "care",
            "model_version": "1",
            "run_id": "r",
        }
    )
    store = open_store(store_url)
    now = datetime.now(UTC)
    replace_list(
        store,
        LIST_DAY,
        run={"run_id": "r", "list_date": LIST_DAY, "started_at": now, "finished_at": now},
        scores=scores,
        followups=pd.DataFrame(),
    )
    for cid in np.array(ids)[~control][:50]:  # a few outreach records (most calls go unlogged)
        record_outreach(
            store,
            {
                "customer_id": cid,
                "contacted_at": datetime(2026, 5, 4, 15, tzinfo=UTC),
                "outcome": "reached",
            },
        )
    answered = rng.uniform(size=n) < 0.6
    detractor = rng.uniform(size=n) < np.where(control, p_control, p_treated)
    score = np.where(detractor, rng.integers(0, 7, n), rng.integers(7, 11, n))
    surveys = pd.DataFrame(
        {
            "customer_id": np.array(ids)[answered],
            "responded_at": pd.Timestamp("2026-05-04", tz="UTC")
            + pd.to_timedelta(rng.integers(1, 40, answered.sum()), unit="D"),
            "score": score[answered],
        }
    )
    earlier = pd.DataFrame(
        {"customer_id": ids[:100], "responded_at": pd.Timestamp("2026-04-01", tz="UTC"), "score": 0}
    )
    return store, pd.concat([surveys, earlier], ignore_index=True)


def test_a_known_effect_is_recovered_within_its_interval(store_url):
    store, surveys = _simulate(store_url, n=6000, p_control=0.40, p_treated=0.28, seed=3)
    result = estimate_impact(store, surveys, NPS_SCALE, date(2026, 5, 1), date(2026, 5, 31))
    assert result.diff_low <= -0.12 <= result.diff_high  # the truth lies in the interval
    assert result.diff_high < 0 and result.p_value < 0.01
    assert "Outreach works" in result.verdict
    assert result.nps.change > 0  # fewer Detractors shows as a higher NPS for the called group
    assert result.control.answered > 500 and result.contacted.answered > 0


def test_no_effect_is_not_claimed(store_url):
    store, surveys = _simulate(store_url, n=6000, p_control=0.30, p_treated=0.30, seed=4)
    result = estimate_impact(store, surveys, NPS_SCALE, date(2026, 5, 1), date(2026, 5, 31))
    assert result.diff_low < 0 < result.diff_high and "No measurable effect" in result.verdict


def test_too_few_answers_say_so(store_url):
    store, surveys = _simulate(store_url, n=60, p_control=0.4, p_treated=0.2, seed=5)
    result = estimate_impact(store, surveys, NPS_SCALE, date(2026, 5, 1), date(2026, 5, 31))
    assert result.verdict.startswith("Too early to tell")
