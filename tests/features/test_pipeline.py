"""Point-in-time correctness of the feature pipeline, by brute force and by property."""

import math
from itertools import pairwise

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from features.catalog import FeatureSpec, feature_catalog
from features.online import OnlineCustomer, online_features
from features.pipeline import agent_history, compute_features
from features.rows import as_of_timestamp, build_training_rows, snapshot_as_of
from features.validation import validate_table
from nps_core.contracts import INTERACTIONS
from nps_core.errors import InvalidTimeError
from tests.features.strategies import CUSTOMER_IDS, at, interaction_rows, survey_rows, tables

SPEC = FeatureSpec(channels=("chat", "email", "phone"))
DAY = pd.Timedelta(days=1)
HOUR = pd.Timedelta(hours=1)


def queries_at(minute: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": pd.Series(CUSTOMER_IDS, dtype="str"),
            "as_of": [at(minute)] * len(CUSTOMER_IDS),
        }
    )


def same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b, rel=1e-9, abs=1e-9)


def brute_force(rows: list[dict], surveys: list[dict], customer: str, t: pd.Timestamp) -> dict:
    """The definitions, written out row by row with no cleverness."""
    mine = [r for r in rows if r["customer_id"] == customer]
    opened = [r for r in mine if r["opened_at"] < t]
    in30 = [r for r in opened if r["opened_at"] >= t - 30 * DAY]
    resolved = [r for r in mine if r["resolved_at"] is not None and r["resolved_at"] < t]
    res30 = [r for r in resolved if r["resolved_at"] >= t - 30 * DAY]
    answered30 = [
        r
        for r in mine
        if r["first_response_at"] is not None and t - 30 * DAY <= r["first_response_at"] < t
    ]
    fcr_known = [r for r in res30 if r["first_contact_resolved"] is not None]
    sentiments = [r["sentiment"] for r in res30 if r["sentiment"] is not None]
    prior = sorted(
        (s for s in surveys if s["customer_id"] == customer and s["responded_at"] < t),
        key=lambda s: s["responded_at"],
    )
    last = max(opened, key=lambda r: r["opened_at"], default=None)
    # agent rate: surveys before t whose triggering ticket had the latest contact's agent
    by_id = {r["interaction_id"]: r for r in rows}
    before = [
        s
        for s in surveys
        if s["responded_at"] < t
        and s["interaction_id"] in by_id
        and by_id[s["interaction_id"]]["opened_at"]
        <= s["responded_at"]  # rates a ticket that existed
    ]
    overall = sum(s["score"] <= 6 for s in before) / len(before) if before else math.nan
    agent_rate = math.nan
    last_agents = (
        {r["agent_id"] for r in opened if r["opened_at"] == last["opened_at"]} if last else set()
    )
    if last is not None and len(last_agents) == 1 and last["agent_id"] is not None:
        theirs = [s for s in before if by_id[s["interaction_id"]]["agent_id"] == last["agent_id"]]
        if not (math.isnan(overall) and not theirs):
            agent_rate = (
                sum(s["score"] <= 6 for s in theirs) + 10 * (0 if math.isnan(overall) else overall)
            ) / (len(theirs) + 10)
    return {
        "contacts_30d": len(in30),
        "contacts_total": len(opened),
        "open_tickets": len(opened) - len(resolved),
        "awaiting_first_response": sum(
            r["first_response_at"] is None or r["first_response_at"] >= t for r in opened
        ),
        "escalations_30d": sum(r["escalated"] is True for r in res30),
        "failed_fcr_30d": sum(r["first_contact_resolved"] is False for r in res30),
        "transfers_30d": sum(r["transfers"] for r in res30),
        "fcr_rate_30d": sum(r["first_contact_resolved"] for r in fcr_known) / len(fcr_known)
        if fcr_known
        else math.nan,
        "mean_first_response_h_30d": float(
            np.mean([(r["first_response_at"] - r["opened_at"]) / HOUR for r in answered30])
        )
        if answered30
        else math.nan,
        "max_resolution_h_30d": max(
            ((r["resolved_at"] - r["opened_at"]) / HOUR for r in res30), default=math.nan
        ),
        "min_sentiment_30d": min(sentiments, default=math.nan),
        "days_since_last_contact": (t - last["opened_at"]) / DAY if last else math.nan,
        "prior_surveys": len(prior),
        "days_since_last_survey": (t - prior[-1]["responded_at"]) / DAY if prior else math.nan,
        "last_agent_detractor_rate": agent_rate,
        "_ambiguous_last": len(last_agents) > 1,
    }


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_features_match_the_definitions(data):
    rows = data.draw(interaction_rows())
    surveys = data.draw(survey_rows(len(rows)))
    minute = data.draw(st.integers(0, 60 * 24 * 100))
    inter, surv, cust = tables(rows, surveys)
    got = compute_features(inter, surv, cust, queries_at(minute), SPEC)
    for k, customer in enumerate(CUSTOMER_IDS):
        expected = brute_force(rows, surveys, customer, at(minute))
        ambiguous = expected.pop("_ambiguous_last")
        for name, value in expected.items():
            if ambiguous and name == "last_agent_detractor_rate":
                continue  # two contacts at the same minute: "latest" is a tie, either is right
            assert same(got[name].iloc[k], float(value)), (customer, name, got[name].iloc[k], value)


def _future_changes(rows, surveys, minute, draw):
    """Rows as they might look later: history before t untouched, everything else free."""
    t = at(minute)
    changed = []
    for r in rows:
        r = dict(r)
        if r["opened_at"] >= t:
            r["channel"] = draw(st.sampled_from(["chat", "social"]))
            r["agent_id"] = draw(st.sampled_from(["a0", "a9", None]))
            r["opened_at"] = max(t, r["opened_at"] - 5 * HOUR)
        resolved_before_t = r["resolved_at"] is not None and r["resolved_at"] < t
        if not resolved_before_t and (
            r["first_response_at"] is None or r["first_response_at"] >= t
        ):
            r["first_response_at"] = draw(
                st.sampled_from([None, max(t, r["opened_at"]) + 2 * HOUR])
            )
        if not resolved_before_t:
            r["resolved_at"] = draw(st.sampled_from([None, max(t, r["opened_at"]) + 30 * HOUR]))
            r["escalated"] = draw(st.sampled_from([True, False, None]))
            r["sentiment"] = draw(st.sampled_from([-1.0, 0.7, None]))
            r["first_contact_resolved"] = draw(st.sampled_from([True, False]))
            r["transfers"] = 9
        if (
            not resolved_before_t
            and r["first_response_at"] is not None
            and r["resolved_at"] is not None
        ):
            r["resolved_at"] = max(r["resolved_at"], r["first_response_at"])
        changed.append(r)
    n_new = draw(st.integers(0, 4))
    for j in range(n_new):
        new_open = t + draw(st.integers(0, 3000)) * pd.Timedelta(minutes=1)
        changed.append(
            {
                **changed[0],
                "interaction_id": f"new{j}",
                "opened_at": new_open,
                "resolved_at": new_open + HOUR,
                "first_response_at": new_open,
                "customer_id": draw(st.sampled_from(CUSTOMER_IDS)),
            }
            if changed
            else {}
        )
    changed = [r for r in changed if r]
    later_surveys = [dict(s) for s in surveys if s["responded_at"] < t] + [
        {
            "response_id": f"late{j}",
            "customer_id": draw(st.sampled_from(CUSTOMER_IDS)),
            "responded_at": t + j * HOUR,
            "score": draw(st.integers(0, 10)),
            "interaction_id": "i0",
        }
        for j in range(draw(st.integers(0, 3)))
    ]
    return changed, later_surveys


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_what_happens_at_or_after_t_never_changes_features_at_t(data):
    rows = data.draw(interaction_rows())
    surveys = data.draw(survey_rows(len(rows)))
    minute = data.draw(st.integers(0, 60 * 24 * 100))
    before = compute_features(*tables(rows, surveys), queries_at(minute), SPEC)
    later_rows, later_surveys = _future_changes(rows, surveys, minute, data.draw)
    after = compute_features(*tables(later_rows, later_surveys), queries_at(minute), SPEC)
    pd.testing.assert_frame_equal(before, after)


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_row_order_changes_nothing(data):
    rows = data.draw(interaction_rows())
    surveys = data.draw(survey_rows(len(rows)))
    minute = data.draw(st.integers(0, 60 * 24 * 100))
    inter, surv, cust = tables(rows, surveys)
    expected = compute_features(inter, surv, cust, queries_at(minute), SPEC)
    seed = data.draw(st.integers(0, 2**16))
    shuffled = compute_features(
        inter.sample(frac=1, random_state=seed),
        surv.sample(frac=1, random_state=seed + 1),
        cust.sample(frac=1, random_state=seed + 2),
        queries_at(minute),
        SPEC,
    )
    pd.testing.assert_frame_equal(expected, shuffled)


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_online_equals_batch_for_each_customer(data):
    rows = data.draw(interaction_rows())
    surveys = data.draw(survey_rows(len(rows)))
    minute = data.draw(st.integers(0, 60 * 24 * 100))
    inter, surv, cust = tables(rows, surveys)
    batch = compute_features(inter, surv, cust, queries_at(minute), SPEC)
    requests = [
        OnlineCustomer(
            customer_id=c,
            as_of=at(minute),
            interactions=[
                {k: v for k, v in r.items() if k != "customer_id"}
                for r in rows
                if r["customer_id"] == c
            ],
            surveys=[s for s in surveys if s["customer_id"] == c],
            attributes=cust[cust.customer_id == c].drop(columns="customer_id").iloc[0].to_dict(),
        )
        for c in CUSTOMER_IDS
    ]
    online = online_features(requests, SPEC, agent_history(inter, surv, cust, SPEC))
    pd.testing.assert_frame_equal(online.reset_index(drop=True), batch.reset_index(drop=True))


def test_tie_rules_from_the_design():
    t = at(10_000)
    rows = [
        {
            "interaction_id": "at_t",
            "customer_id": "c0",
            "channel": "chat",
            "opened_at": t,
            "resolved_at": t + HOUR,
        },
        {
            "interaction_id": "edge",
            "customer_id": "c0",
            "channel": "chat",
            "opened_at": t - 30 * DAY,
            "resolved_at": t,
            "escalated": True,
        },
        {
            "interaction_id": "old",
            "customer_id": "c0",
            "channel": "chat",
            "opened_at": t - 30 * DAY - pd.Timedelta(1, "ns"),
            "resolved_at": t - HOUR,
            "escalated": True,
        },
    ]
    f = compute_features(*tables(rows, []), queries_at(10_000), SPEC).iloc[0]
    assert f["contacts_30d"] == 1  # opened exactly at t - 30d is inside; exactly at t is not
    assert f["contacts_total"] == 2
    assert f["open_tickets"] == 1  # resolved exactly at t still counts as open
    assert (
        f["escalations_30d"] == 1
    )  # only the ticket resolved before t; the edge one is unknown yet


def test_open_ticket_age_is_exact_after_a_million_hours_of_other_customers():
    """The open tickets' age is a difference of two all-history totals; in float prefix
    sums it would carry the rounding of every earlier customer's times (hours off at 10M
    rows). Sums of integer nanoseconds keep it exact wherever the customer sorts."""
    t = at(60 * 24 * 300)
    others = [
        {
            "interaction_id": f"o{i}",
            "customer_id": f"a{i:06d}",  # sorts before c0, so c0's sums come after all of these
            "channel": "chat",
            "opened_at": t - pd.Timedelta(seconds=int(s)),
            "resolved_at": t - pd.Timedelta(seconds=int(s) - 1) if i % 2 else None,
        }
        for i, s in enumerate(np.random.default_rng(0).integers(10**6, 10**7, 100_000))
    ]
    mine = [
        {
            "interaction_id": f"m{i}",
            "customer_id": "c0",
            "channel": "chat",
            "opened_at": t - pd.Timedelta(minutes=minutes),
            "resolved_at": t - pd.Timedelta(minutes=1) if i == 0 else None,
        }
        for i, minutes in enumerate([50_000, 170, 7])
    ]
    inter, surv, cust = tables(others + mine, [])
    everyone = [row["customer_id"] for row in others] + ["c0"]  # c0 is coded last
    queries = pd.DataFrame({"customer_id": pd.Series(everyone, dtype="str"), "as_of": t})
    f = compute_features(inter, surv, cust, queries, SPEC).iloc[-1]
    assert f["open_tickets"] == 2
    assert f["open_ticket_mean_age_h"] == pytest.approx((170 + 7) / 2 / 60, rel=1e-12)


def test_catalog_describes_every_column_and_nothing_uses_comments():
    inter, surv, cust = tables([], [])
    got = compute_features(inter, surv, cust, queries_at(0), SPEC)
    catalog = feature_catalog(SPEC)
    assert list(got.columns) == list(catalog)
    assert all(info.description and "{value}" in info.template for info in catalog.values())
    assert not [c for c in got.columns if "comment" in c or "remark" in c]


def test_training_rows_exclude_internal_accounts_and_their_own_answer():
    rows = [
        {
            "interaction_id": "i0",
            "customer_id": "c0",
            "channel": "chat",
            "opened_at": at(0),
            "resolved_at": at(60),
        }
    ]
    surveys = [
        {
            "response_id": "r0",
            "customer_id": "c0",
            "responded_at": at(120),
            "score": 2,
            "interaction_id": "i0",
        },
        {"response_id": "r1", "customer_id": "c1", "responded_at": at(130), "score": 9},
    ]
    inter, surv, cust = tables(rows, surveys)
    cust = cust.assign(is_internal=pd.array([False, True, False], dtype="boolean"))
    train = build_training_rows(inter, surv, cust, SPEC)
    assert train["response_id"].tolist() == ["r0"]
    row = train.iloc[0]
    assert row["is_detractor"] == 1 and row["nps_segment"] == "detractor"
    assert row["prior_surveys"] == 0  # the answer being predicted is not its own history
    assert row["channel"] == "chat"


def test_snapshot_is_one_row_per_active_customer():
    rows = [
        {"interaction_id": "i0", "customer_id": "c0", "channel": "chat", "opened_at": at(0)},
        {
            "interaction_id": "i1",
            "customer_id": "c1",
            "channel": "chat",
            "opened_at": at(0) - 400 * DAY,
        },
        {
            "interaction_id": "i2",
            "customer_id": "c2",
            "channel": "chat",
            "opened_at": at(0) + 10 * DAY,
        },
    ]
    inter, surv, cust = tables(rows, [])
    snap = snapshot_as_of(inter, surv, cust, as_of_timestamp("2026-03-05"), SPEC)
    assert snap["customer_id"].tolist() == ["c0"]  # c1 long inactive, c2 not yet seen
    assert snap["as_of"].iloc[0] == pd.Timestamp("2026-03-05", tz="UTC")


def test_bare_date_means_midnight_utc():
    assert as_of_timestamp("2026-11-20") == pd.Timestamp("2026-11-20T00:00:00Z")
    assert as_of_timestamp("2026-11-20T09:00:00+02:00") == pd.Timestamp("2026-11-20T07:00:00Z")


def test_reason_sentences_read_naturally():
    catalog = feature_catalog(SPEC)
    assert catalog["open_tickets"].render(1.0) == "1 ticket still open"
    assert catalog["open_tickets"].render(3.0) == "3 tickets still open"
    assert catalog["escalations_30d"].render(1.0) == "1 escalation in the last 30 days"
    assert (
        catalog["fcr_rate_30d"].render(0.25)
        == "25% of tickets solved at first contact in the last 30 days"
    )
    assert catalog["mean_sentiment_30d"].render(float("nan")).endswith("not known yet")


@pytest.mark.parametrize("kind", ["training rows", "snapshot"])
def test_threads_change_nothing(sim_dir, kind):
    """The streams run on a thread pool for large inputs; the result must be the same,
    bit for bit, as one thread computing them in turn."""
    from features.dataset import load_dataset
    from features.rows import learn_spec

    data = load_dataset(sim_dir)
    spec = learn_spec(data.interactions)
    if kind == "training rows":
        queries = data.surveys[["customer_id", "responded_at"]].rename(
            columns={"responded_at": "as_of"}
        )
    else:
        ids = data.customers["customer_id"]
        queries = pd.DataFrame({"customer_id": ids, "as_of": as_of_timestamp("2026-08-01")})
    tables = (data.interactions, data.surveys, data.customers, queries, spec)
    alone = compute_features(*tables, workers=1)
    threaded = compute_features(*tables, workers=2)
    pd.testing.assert_frame_equal(alone, threaded, check_exact=True)
    assert len(alone) == len(queries) and alone["contacts_total"].sum() > 0


# --- the edges of time: nanoseconds, both ends of datetime64[ns], NaT ------------------

NS_MIN, NS_MAX = pd.Timestamp.min.value, pd.Timestamp.max.value
NS_DAY, NS_HOUR = 86_400 * 10**9, 3_600 * 10**9
NOW = at(0).value
edge_times = st.one_of(
    st.integers(NS_MIN, NS_MIN + 400 * NS_DAY),
    st.integers(NS_MAX - 400 * NS_DAY, NS_MAX),
    st.integers(NOW - 1_000 * NS_DAY, NOW + 1_000 * NS_DAY),  # to the nanosecond
)


def _stamp(ns: int) -> pd.Timestamp:
    return pd.Timestamp(ns, tz="UTC")


@st.composite
def edge_history(draw):
    """Contacts and answers of c0..c2 anywhere in datetime64[ns]; queries for them and for
    c3 (no rows at all: its code lies past every event's) before every event, after every
    event, at event times and one ns either side, and at both extremes."""
    rows = []
    for i in range(draw(st.integers(1, 6))):
        opened = draw(edge_times)
        resolved = draw(st.one_of(st.none(), st.integers(0, 100 * NS_DAY)))
        rows.append(
            {
                "interaction_id": f"i{i}",
                "customer_id": draw(st.sampled_from(CUSTOMER_IDS)),
                "channel": "chat",
                "opened": opened,
                "resolved": None if resolved is None else min(opened + resolved, NS_MAX),
            }
        )
    answers = [
        {"customer_id": draw(st.sampled_from(CUSTOMER_IDS)), "responded": draw(edge_times)}
        for _ in range(draw(st.integers(0, 3)))
    ]
    times = [r["opened"] for r in rows] + [a["responded"] for a in answers]
    near = [min(max(t + d, NS_MIN), NS_MAX) for t in times for d in (-1, 0, 1)]
    shapes = [*near, max(min(times) - 1, NS_MIN), min(max(times) + 1, NS_MAX), NS_MIN, NS_MAX]
    queries = draw(
        st.lists(
            st.tuples(st.sampled_from([*CUSTOMER_IDS, "c3"]), st.sampled_from(shapes)),
            min_size=1,
            max_size=8,
        )
    )
    return rows, answers, queries


def _edge_expected(rows: list[dict], answers: list[dict], customer: str, t: int) -> dict:
    mine = sorted(
        (r for r in rows if r["customer_id"] == customer), key=lambda r: (r["opened"], r["id"])
    )
    opened = [r for r in mine if r["opened"] < t]
    still_open = [r for r in opened if r["resolved"] is None or r["resolved"] >= t]
    repeats = [
        cur for prev, cur in pairwise(opened) if cur["opened"] - prev["opened"] <= 7 * NS_DAY
    ]
    said = [a["responded"] for a in answers if a["customer_id"] == customer and a["responded"] < t]
    out = {
        "contacts_total": len(opened),
        "open_tickets": len(still_open),
        "prior_surveys": len(said),
        "days_since_last_contact": float(t - opened[-1]["opened"]) / NS_DAY if opened else math.nan,
        "days_since_first_contact": float(t - opened[0]["opened"]) / NS_DAY if opened else math.nan,
        "days_since_last_survey": float(t - max(said)) / NS_DAY if said else math.nan,
        "open_ticket_mean_age_h": sum(t - r["opened"] for r in still_open)
        / len(still_open)
        / NS_HOUR
        if still_open
        else 0.0,
    }
    for w in SPEC.windows_days:  # [t - w, t), with t - w allowed below the earliest instant
        out[f"contacts_{w}d"] = sum(r["opened"] >= t - w * NS_DAY for r in opened)
        out[f"repeat_contacts_{w}d"] = sum(r["opened"] >= t - w * NS_DAY for r in repeats)
    return out


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(edge_history())
def test_features_are_exact_at_the_edges_of_time(history):
    """No difference of two times wraps around int64, no window bound wraps into the far
    future, no query code reads another customer's events: counts, ages and recencies are
    the definitions', computed here in exact Python integers."""
    rows, answers, asked = history
    for r in rows:
        r["id"] = r["interaction_id"]
    inter, surv, cust = tables(
        [
            {
                "interaction_id": r["interaction_id"],
                "customer_id": r["customer_id"],
                "channel": r["channel"],
                "opened_at": _stamp(r["opened"]),
                "resolved_at": None if r["resolved"] is None else _stamp(r["resolved"]),
            }
            for r in rows
        ],
        [
            {
                "response_id": f"r{k}",
                "customer_id": a["customer_id"],
                "responded_at": _stamp(a["responded"]),
                "score": 3,
            }
            for k, a in enumerate(answers)
        ],
    )
    queries = pd.DataFrame(
        {
            "customer_id": pd.Series([c for c, _ in asked], dtype="str"),
            "as_of": pd.Series([_stamp(t) for _, t in asked], dtype="datetime64[ns, UTC]"),
        }
    )
    got = compute_features(inter, surv, cust, queries, SPEC)
    for k, (customer, t) in enumerate(asked):
        for name, value in _edge_expected(rows, answers, customer, t).items():
            assert same(got[name].iloc[k], float(value)), (customer, t, name, got[name].iloc[k])


def test_a_customer_without_contacts_never_gets_another_customers():
    """Nanosecond contacts three years apart make a stream's span of time keys ~1e17, and
    the keys of customers coded ~90 places later wrapped around int64 into c0's events
    (one of them had -2 contacts)."""
    t = at(0)
    rows = [
        {"interaction_id": "a", "customer_id": "c0", "channel": "chat", "opened_at": t},
        {
            "interaction_id": "b",
            "customer_id": "c0",
            "channel": "chat",
            "opened_at": t + pd.Timedelta(10**17 + 1, "ns"),
        },
    ]
    inter, surv, cust = tables(rows, [])
    others = [f"q{k:03d}" for k in range(250)]  # coded after c0, in this order
    queries = pd.DataFrame(
        {
            "customer_id": pd.Series(["c0", *others], dtype="str"),
            "as_of": t + pd.Timedelta(10**17 + 5, "ns"),
        }
    )
    got = compute_features(inter, surv, cust, queries, SPEC)
    assert got["contacts_total"].tolist() == [2.0] + [0.0] * len(others)


def test_a_request_spanning_three_centuries_is_not_negative():
    """The API accepts 1900-2199: 300 years, more than an int64 of nanoseconds holds."""
    contact = {
        "interaction_id": "i",
        "channel": "chat",
        "opened_at": pd.Timestamp("1900-01-02", tz="UTC"),
        "first_response_at": pd.Timestamp("2199-01-02", tz="UTC"),
    }
    request = OnlineCustomer("c", pd.Timestamp("2199-12-30", tz="UTC"), interactions=[contact])
    got = online_features([request], SPEC).iloc[0]
    days = (pd.Timestamp("2199-12-30") - pd.Timestamp("1900-01-02")).days
    assert got["days_since_last_contact"] == days
    assert got["open_ticket_mean_age_h"] == days * 24
    assert got["last_contact_response_wait_h"] == (days - 362) * 24


@pytest.mark.parametrize(
    "value", [None, "NaT", float("nan"), pd.NaT, "soon", "3000-01-01"], ids=repr
)
def test_an_unusable_as_of_is_refused_by_name(value):
    with pytest.raises(InvalidTimeError, match="as_of"):
        as_of_timestamp(value)


def test_batch_and_online_queries_without_a_time_are_refused():
    """As of NaT every window came out empty (contacts_7d was -1): refused, never answered."""
    inter, surv, cust = tables([], [])
    queries = queries_at(0).assign(as_of=[at(0), pd.NaT, at(1)])
    with pytest.raises(InvalidTimeError, match="customer 'c1'"):
        compute_features(inter, surv, cust, queries, SPEC)
    with pytest.raises(InvalidTimeError, match="NaT"):
        online_features([OnlineCustomer("c", pd.NaT)], SPEC)
    with pytest.raises(InvalidTimeError):
        snapshot_as_of(inter, surv, cust, pd.NaT, SPEC)


# --- internal and test accounts ----------------------------------------------------------


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_an_internal_accounts_answers_change_no_other_customers_features(data):
    """c1 is a test account: whatever it answers (Detractor, Promoter, nothing at all), the
    agent and team Detractor rates, and every other feature, of c0 and c2 stay the same, in
    training rows and in snapshots."""
    rows = data.draw(interaction_rows())
    surveys = data.draw(survey_rows(len(rows)))
    minute = data.draw(st.integers(0, 60 * 24 * 100))
    as_of = at(minute)

    def with_c1_answering(score: int | None) -> tuple[pd.DataFrame, pd.DataFrame]:
        theirs = [s for s in surveys if s["customer_id"] != "c1"]
        if score is not None:
            theirs += [{**s, "score": score} for s in surveys if s["customer_id"] == "c1"]
        inter, surv, cust = tables(rows, theirs)
        cust = cust.assign(is_internal=pd.array([False, True, False], dtype="boolean"))
        train = build_training_rows(inter, surv, cust, SPEC).sort_values("response_id")
        snap = snapshot_as_of(inter, surv, cust, as_of, SPEC)
        return train.reset_index(drop=True), snap

    silent_train, silent_snap = with_c1_answering(None)
    for score in (0, 10):
        train, snap = with_c1_answering(score)
        pd.testing.assert_frame_equal(train, silent_train)
        pd.testing.assert_frame_equal(snap, silent_snap)


def test_agent_history_leaves_internal_accounts_out():
    rows = [
        {"interaction_id": f"i{k}", "customer_id": c, "channel": "chat", "opened_at": at(k)}
        | {"agent_id": "a0", "team": "t0"}
        for k, c in enumerate(["c0", "c1", "c1"])
    ]
    surveys = [
        {"response_id": f"r{k}", "customer_id": c, "responded_at": at(10 + k), "score": 0}
        | {"interaction_id": f"i{k}"}
        for k, c in enumerate(["c0", "c1", "c1"])
    ]
    inter, surv, cust = tables(rows, surveys)
    cust = cust.assign(is_internal=pd.array([False, True, False], dtype="boolean"))
    history = agent_history(inter, surv, cust, SPEC)
    assert history["responded_at"].tolist() == [at(10)]  # c0's answer only


@given(
    st.data(),
    st.lists(st.sampled_from([" E-mail", "Live Chat ", "PHONE", "email", "mail"]), min_size=1),
)
def test_online_reads_raw_text_as_the_batch_validation_does(data, spellings):
    """Channel spellings, padding and empty text: a request carries them as the helpdesk
    sent them; the batch path cleans them in validation. Both must see the same values."""
    rows = data.draw(interaction_rows())
    for i, row in enumerate(rows):
        row["channel"] = spellings[i % len(spellings)]
        row["team"] = [" support ", "", None][i % 3]
    inter, surv, cust = tables(rows, [])
    raw = inter.astype({"channel": "object", "team": "object"})
    raw["channel"], raw["team"] = [r["channel"] for r in rows], [r["team"] for r in rows]
    kept = validate_table(raw, INTERACTIONS, source="t").kept
    batch = compute_features(kept, surv, cust, queries_at(60 * 24 * 100), SPEC)
    requests = [
        OnlineCustomer(
            customer_id=c,
            as_of=at(60 * 24 * 100),
            interactions=[
                {k: v for k, v in r.items() if k != "customer_id"}
                for r in rows
                if r["customer_id"] == c
            ],
            attributes=cust[cust.customer_id == c].drop(columns="customer_id").iloc[0].to_dict(),
        )
        for c in CUSTOMER_IDS
    ]
    online = online_features(requests, SPEC, agent_history(kept, surv, cust, SPEC))
    pd.testing.assert_frame_equal(online.reset_index(drop=True), batch.reset_index(drop=True))
