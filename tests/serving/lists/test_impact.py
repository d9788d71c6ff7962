"""`impact`: a known outreach effect by band is recovered from the store, with Newcombe
intervals; outcomes every customer has (repeat contact, churn); arms fixed at the first flag."""

import json
import math
from datetime import UTC, date, datetime

import numpy as np
import pandas as pd
import pytest

from nps_core.scale import NPS_SCALE
from serving.lists.impact import estimate_impact, write_outputs
from serving.lists.store import open_store, record_outreach, replace_list

LIST_DAY = date(2026, 5, 4)
CONTRACT_KEYS = {
    "band",
    "n_treatment",
    "n_control",
    "answered_treatment",
    "answered_control",
    "detractor_rate_treatment",
    "detractor_rate_control",
    "effect",
    "ci_low",
    "ci_high",
}


def _list_rows(day: date, ids, grp, band, probability) -> pd.DataFrame:
    n = len(ids)
    return pd.DataFrame(
        {
            "list_date": day,
            "customer_id": list(ids),
            "rank": np.arange(1, n + 1),
            "probability": probability,
            "band": band,
            "grp": grp,
            "flagged": True,
            "reasons": None,
            "action": "call",
            "owner_team": "care",
            "model_version": "1",
            "run_id": f"r{day}",
        }
    )


def _write_list(store, day: date, scores: pd.DataFrame) -> None:
    now = datetime.now(UTC)
    replace_list(
        store,
        day,
        run={"run_id": f"r{day}", "list_date": day, "started_at": now, "finished_at": now},
        scores=scores,
        followups=pd.DataFrame(),
    )


def _simulate(store_url: str, n: int, effects: dict[str, float], seed: int):
    """n flagged customers per band, a fifth held out; later answers with known Detractor
    chances (control 40%; treatment 40% + the band's effect)."""
    rng = np.random.default_rng(seed)
    frames, answers = [], []
    for b, (band, effect) in enumerate(effects.items()):
        ids = np.array([f"{band}{i}" for i in range(n)])
        control = rng.uniform(size=n) < 0.2
        prob = np.linspace(0.9, 0.6, n) if band == "high" else np.linspace(0.3, 0.1, n)
        frames.append(
            _list_rows(LIST_DAY, ids, np.where(control, "control", "treatment"), band, prob)
        )
        answered = rng.uniform(size=n) < 0.6
        p = np.where(control, 0.40, 0.40 + effect)
        detractor = rng.uniform(size=n) < p
        score = np.where(detractor, rng.integers(0, 7, n), rng.integers(7, 11, n))
        answers.append(
            pd.DataFrame(
                {
                    "response_id": [f"a{b}-{i}" for i in range(answered.sum())],
                    "customer_id": ids[answered],
                    "responded_at": pd.Timestamp("2026-05-04", tz="UTC")
                    + pd.to_timedelta(rng.integers(1, 40, answered.sum()), unit="D"),
                    "score": score[answered],
                }
            )
        )
    scores = pd.concat(frames, ignore_index=True).assign(
        rank=lambda f: f["probability"].rank(ascending=False, method="first").astype(int)
    )
    store = open_store(store_url)
    _write_list(store, LIST_DAY, scores)
    surveys = pd.concat(answers, ignore_index=True)
    some = scores["customer_id"][:100].to_numpy()
    earlier = pd.DataFrame(
        {
            "response_id": [f"e{i}" for i in range(len(some))],
            "customer_id": some,
            "responded_at": pd.Timestamp("2026-04-01", tz="UTC"),
            "score": 0,
        }
    )
    return store, pd.concat([surveys, earlier], ignore_index=True)


def _no_interactions() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": pd.Series([], dtype="str"),
            "opened_at": pd.Series([], dtype="datetime64[ns, UTC]"),
        }
    )


def _no_customers() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": pd.Series([], dtype="str"),
            "churned_at": pd.Series([], dtype="datetime64[ns, UTC]"),
        }
    )


def _impact(store, surveys, interactions=None, customers=None, **kw):
    return estimate_impact(
        store,
        surveys,
        _no_interactions() if interactions is None else interactions,
        _no_customers() if customers is None else customers,
        NPS_SCALE,
        kw.pop("date_from", date(2026, 5, 1)),
        kw.pop("date_to", date(2026, 5, 31)),
        capacity=kw.pop("capacity", 50),
        bootstrap=kw.pop("bootstrap", 30),
        **kw,
    )


def test_a_known_effect_in_one_band_and_none_in_another(store_url, tmp_path):
    store, surveys = _simulate(store_url, n=3000, effects={"high": -0.12, "low": 0.0}, seed=3)
    report = _impact(store, surveys)
    high, low = report.by_band
    assert (high["band"], low["band"]) == ("high", "low")
    assert high["ci_low"] <= -0.12 <= high["ci_high"] < 0  # the truth lies in the interval
    assert low["ci_low"] < 0 < low["ci_high"]
    assert high["verdict"].startswith("calls help high-risk customers")
    assert low["verdict"].startswith("no measurable effect on low-risk customers")
    assert (
        report.verdict
        == "calls help high-risk customers; no measurable effect on low-risk customers"
    )
    # answering was not changed by outreach here: the weighted effect agrees with the naive
    weighted = high["weighted_detractor"]
    assert weighted["ci_low"] <= -0.12 <= weighted["ci_high"]
    assert report.overall["n_treatment"] + report.overall["n_control"] == 6000
    # every rate and difference has its interval
    answer = high["answer_rate"]
    assert answer["rate_treatment_low"] < answer["rate_treatment"] < answer["rate_treatment_high"]
    assert answer["ci_low"] < 0 < answer["ci_high"]

    write_outputs(report, tmp_path / "impact.json", tmp_path / "impact-qini.png")
    document = json.loads((tmp_path / "impact.json").read_text())
    assert set(document["overall"]) >= CONTRACT_KEYS
    assert [b["band"] for b in document["by_band"]] == ["high", "low"]
    assert all(set(b) >= CONTRACT_KEYS for b in document["by_band"])
    first = document["by_band"][0]
    assert first["effect"] == pytest.approx(
        first["detractor_rate_treatment"] - first["detractor_rate_control"]
    )
    assert (tmp_path / "impact-qini.png").read_bytes()[:4] == b"\x89PNG"
    assert document["qini"]["plot"] == str(tmp_path / "impact-qini.png")


def test_too_few_answers_say_so(store_url):
    store, surveys = _simulate(store_url, n=60, effects={"high": -0.2}, seed=5)
    report = _impact(store, surveys)
    assert report.by_band[0]["verdict"].startswith("too early to tell for high-risk customers")
    assert "help" not in report.by_band[0]["verdict"]


def _tiny_store(store_url):
    """Four high-band customers flagged on May 4: a, b called; c, d control.
    d is flagged again on May 20 in the treatment arm (a new control month), so d's
    follow-up stops there; c gets a call recorded on May 10, so c's stops there."""
    store = open_store(store_url)
    _write_list(
        store,
        LIST_DAY,
        _list_rows(LIST_DAY, "abcd", ["treatment", "treatment", "control", "control"], "high", 0.8),
    )
    later = date(2026, 5, 20)
    _write_list(
        store, later, _list_rows(later, ["d", "a"], ["treatment", "treatment"], "high", 0.8)
    )
    record_outreach(
        store,
        {
            "customer_id": "c",
            "contacted_at": datetime(2026, 5, 10, 9, tzinfo=UTC),
            "outcome": "reached",
        },
    )
    return store


def test_repeat_contact_and_churn_on_a_tiny_store(store_url):
    store = _tiny_store(store_url)
    at = lambda text: pd.Timestamp(text, tz="UTC")  # noqa: E731
    interactions = pd.DataFrame(
        {
            "customer_id": ["a", "a", "b", "c", "c", "d", "d"],
            "opened_at": [
                at("2026-04-20"),  # before the flag: a covariate, not an outcome
                at("2026-05-30"),  # within 30 days of May 4
                at("2026-06-10"),  # 37 days later: not a repeat within 30
                at("2026-05-06"),  # within 30 days, before c's censoring
                at("2026-05-12"),  # after c was called: censored
                at("2026-05-25"),  # after d switched arm on May 20: censored
                at("2026-05-19"),  # before the switch: counts
            ],
        }
    )
    customers = pd.DataFrame(
        {
            "customer_id": ["a", "b", "c", "d"],
            "churned_at": [at("2026-07-01"), at("2026-08-20"), pd.NaT, at("2026-05-25")],
        }
    )
    surveys = pd.DataFrame(
        {
            "response_id": ["r1"],
            "customer_id": ["a"],
            "responded_at": [at("2026-05-05")],
            "score": [3],
        }
    )
    report = _impact(store, surveys, interactions, customers, date_to=date(2026, 5, 10))
    people = report.customers.set_index("customer_id")
    assert people["grp"].to_dict() == {
        "a": "treatment",
        "b": "treatment",
        "c": "control",
        "d": "control",
    }
    assert people["repeat_contact"].to_dict() == {"a": 1, "b": 0, "c": 1, "d": 1}
    # a: July 1 is within 90 days; b: Aug 20 is 108 days later; d churned after its switch
    assert people["churned"].to_dict() == {"a": 1, "b": 0, "c": 0, "d": 0}
    assert people.loc["c", "censored_at"] == at("2026-05-10 09:00")
    assert people.loc["d", "censored_at"] == at("2026-05-20")
    assert pd.isna(people.loc["a", "censored_at"])
    overall = report.overall
    assert overall["repeat_contact"]["events_treatment"] == 1
    assert overall["repeat_contact"]["events_control"] == 2
    assert overall["churn"]["events_treatment"] == 1 and overall["churn"]["events_control"] == 0
    assert (overall["censored_treatment"], overall["censored_control"]) == (0, 2)
    assert overall["answered_treatment"] == 1 and overall["detractor_rate_treatment"] == 1.0
    assert overall["detractor_rate_control"] is None  # no answers: no rate, never NaN in JSON


def test_churn_is_left_out_when_the_data_has_no_churned_at(store_url):
    store = _tiny_store(store_url)
    report = _impact(
        store,
        pd.DataFrame(columns=["response_id", "customer_id", "responded_at", "score"]).astype(
            {"responded_at": "datetime64[ns, UTC]", "score": "int64"}
        ),
    )
    assert report.overall["churn"] is None
    assert math.isnan(report.customers["churned"].iloc[0])
