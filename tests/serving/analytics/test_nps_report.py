"""The NPS report equals an independent recomputation from the surveys table, for every
breakdown and period (hypothesis), and the command writes what the API answers."""

from __future__ import annotations

import json
import math
from datetime import date, timedelta

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from features.dataset import Dataset
from features.validation import empty_quarantine
from nps_core.contracts import CUSTOMERS, INTERACTIONS, SURVEYS, conform
from nps_core.scale import NPS_SCALE
from serving.analytics.nps import GROUPS, PERIODS, nps_report, report_dict

Z95 = 1.959963984540054
BASE = pd.Timestamp("2026-01-01", tz="UTC")


@st.composite
def datasets(draw):
    """Up to 60 answers over ~8 months, some by internal accounts, some without a ticket,
    a customer or a survey channel (the ticket's then counts)."""
    customers = [
        {
            "customer_id": f"c{i}",
            "segment": draw(st.sampled_from(["smb", "enterprise", None])),
            "region": draw(st.sampled_from(["eu", "us", None])),
            "plan": draw(st.sampled_from(["basic", "pro", None])),
            "is_internal": draw(st.sampled_from([True, False, False, None])),
        }
        for i in range(draw(st.integers(0, 5)))
    ]
    ids = [c["customer_id"] for c in customers] + ["ghost"]  # a customer with no row
    tickets = [
        {
            "interaction_id": f"i{i}",
            "customer_id": draw(st.sampled_from(ids)),
            "channel": draw(st.sampled_from(["chat", "email", "phone"])),
            "opened_at": BASE,
            "team": draw(st.sampled_from(["t0", "t1", None])),
        }
        for i in range(draw(st.integers(0, 6)))
    ]
    answers = [
        {
            "response_id": f"r{i}",
            "customer_id": draw(st.sampled_from(ids)),
            "responded_at": BASE + pd.Timedelta(minutes=draw(st.integers(0, 60 * 24 * 240))),
            "score": draw(st.integers(0, 10)),
            "interaction_id": draw(
                st.sampled_from([None, *[t["interaction_id"] for t in tickets]])
            ),
            "channel": draw(st.sampled_from([None, "social", "chat"])),
        }
        for i in range(draw(st.integers(0, 60)))
    ]

    def frame(rows, contract):
        raw = pd.DataFrame(rows, columns=[*(rows[0] if rows else contract.required)])
        return conform(raw, contract)

    return Dataset(
        interactions=frame(tickets, INTERACTIONS),
        surveys=frame(answers, SURVEYS),
        customers=frame(customers, CUSTOMERS),
        quarantine=empty_quarantine(),
        scale=NPS_SCALE,
    )


def _label(day: date, freq: str) -> str:
    if freq == "M":
        return f"{day.year}-{day.month:02d}"
    if freq == "Q":
        return f"{day.year}Q{(day.month - 1) // 3 + 1}"
    monday = day - timedelta(days=day.weekday())
    return f"{monday}/{monday + timedelta(days=6)}"


def _figure(scores: list[int]) -> dict:
    n = len(scores)
    p = sum(s >= 9 for s in scores)
    d = sum(s <= 6 for s in scores)
    out = {"n": n, "promoters": p, "passives": n - p - d, "detractors": d}
    if n == 0:
        return {**out, "nps": None, "ci_low": None, "ci_high": None, "small_sample": True}
    nps = 100 * (p - d) / n
    se = 100 * math.sqrt(max(p / n + d / n - ((p - d) / n) ** 2, 0) / n)
    return {
        **out,
        "nps": nps,
        "ci_low": max(-100, nps - Z95 * se),
        "ci_high": min(100, nps + Z95 * se),
        "small_sample": n < 30,
    }


def recompute(data: Dataset, by: str, freq: str, start=None, end=None) -> dict:
    """The report by hand: plain Python over the rows, no code of the package."""
    customers = {r["customer_id"]: r for r in data.customers.to_dict("records")}
    tickets = {}
    for r in data.interactions.to_dict("records"):
        tickets.setdefault(r["interaction_id"], r)
    rows = []
    for r in data.surveys.to_dict("records"):
        who = customers.get(r["customer_id"], {})
        if who.get("is_internal") is True:
            continue
        day = r["responded_at"].date()
        if (start and day < start) or (end and day > end):
            continue
        ticket = tickets.get(r["interaction_id"], {})
        context = {
            "channel": r["channel"] if isinstance(r["channel"], str) else ticket.get("channel"),
            "team": ticket.get("team"),
            **{k: who.get(k) for k in ("segment", "region", "plan")},
        }
        value = context[by]
        rows.append(
            (value if isinstance(value, str) else "(unknown)", _label(day, freq), int(r["score"]))
        )
    by_period, by_group, by_both = {}, {}, {}
    for group, period, score in rows:
        by_period.setdefault(period, []).append(score)
        by_group.setdefault(group, []).append(score)
        by_both.setdefault((group, period), []).append(score)
    return {
        "overall": _figure([s for *_, s in rows]),
        "periods": {k: _figure(v) for k, v in by_period.items()},
        "groups": {k: _figure(v) for k, v in by_group.items()},
        "by_period": {k: _figure(v) for k, v in by_both.items()},
    }


def _same(got: dict, want: dict) -> None:
    for key, value in want.items():
        if isinstance(value, float):
            assert got[key] == pytest.approx(value, abs=1e-9), key
        else:
            assert got[key] == value, key


@given(data=datasets(), by=st.sampled_from(GROUPS), period=st.sampled_from(sorted(PERIODS)))
def test_every_figure_equals_a_recomputation_from_the_surveys(data, by, period):
    freq = PERIODS[period]
    got = report_dict(nps_report(data, [by], freq))
    want = recompute(data, by, freq)
    _same(got["overall"], want["overall"])
    assert {p["period"]: p for p in got["periods"]}.keys() == want["periods"].keys()
    for entry in got["periods"]:
        _same(entry, want["periods"][entry["period"]])
    groups = got["by"][by]["groups"]
    assert [g["group"] for g in groups] == sorted(
        want["groups"], key=lambda g: (-want["groups"][g]["n"], g)
    )
    for entry in groups:
        _same(entry, want["groups"][entry["group"]])
    both = got["by"][by]["by_period"]
    assert len(both) == len(want["by_period"])
    for entry in both:
        _same(entry, want["by_period"][(entry["group"], entry["period"])])
    assert sum(g["n"] for g in groups) == sum(p["n"] for p in got["periods"]) == got["overall"]["n"]


@given(
    data=datasets(),
    start=st.dates(date(2026, 1, 1), date(2026, 9, 1)),
    days=st.integers(0, 120),
)
def test_the_date_window_counts_whole_days_at_both_ends(data, start, days):
    end = start + timedelta(days=days)
    got = report_dict(nps_report(data, ["team"], "W", date_from=start, date_to=end))
    want = recompute(data, "team", "W", start, end)
    _same(got["overall"], want["overall"])
    assert {g["group"]: g["n"] for g in got["by"]["team"]["groups"]} == {
        k: v["n"] for k, v in want["groups"].items()
    }


@given(data=datasets())
def test_the_latest_change_is_the_last_two_periods(data):
    got = report_dict(nps_report(data, ["channel"], "M"))
    periods = got["periods"]
    if len(periods) < 2:
        assert got["change"] is None
        return
    before, after = periods[-2], periods[-1]
    change = got["change"]
    assert (change["before"], change["after"]) == (before["period"], after["period"])
    if change["change"] is not None:
        assert change["change"] == pytest.approx(after["nps"] - before["nps"])
        assert change["ci_low"] <= change["change"] <= change["ci_high"]
        assert change["significant"] == (change["p_value"] < 0.05)


def test_internal_answers_never_count():
    surveys = conform(
        pd.DataFrame(
            {
                "response_id": ["r1", "r2"],
                "customer_id": ["inside", "outside"],
                "responded_at": [BASE, BASE],
                "score": [0, 10],
            }
        ),
        SURVEYS,
    )
    customers = conform(
        pd.DataFrame({"customer_id": ["inside", "outside"], "is_internal": [True, False]}),
        CUSTOMERS,
    )
    data = Dataset(
        conform(pd.DataFrame(columns=list(INTERACTIONS.required)), INTERACTIONS),
        surveys,
        customers,
        empty_quarantine(),
    )
    report = report_dict(nps_report(data, ["segment"], "M"))
    assert report["overall"]["n"] == 1 and report["overall"]["nps"] == 100.0
    assert report["by"]["segment"]["groups"][0]["group"] == "(unknown)"


def test_an_unknown_breakdown_or_industry_is_refused(sim_dir):
    from features.dataset import load_dataset

    data = load_dataset(sim_dir)
    with pytest.raises(ValueError, match="'agent'"):
        nps_report(data, ["agent"])
    with pytest.raises(ValueError, match="'space'"):
        nps_report(data, ["team"], industry="space")


def test_the_command_writes_the_json_the_api_answers(sim_dir, tmp_path, monkeypatch, capsys):
    from features.dataset import load_dataset
    from nps_core.config import get_settings
    from serving.cli import main as cli

    monkeypatch.setenv("NPS_RISK_OUTPUTS_DIR", str(tmp_path))
    get_settings.cache_clear()
    try:
        code = cli(
            [
                "nps",
                "--data",
                str(sim_dir),
                "--by",
                "team",
                "plan",
                "--freq",
                "Q",
                "--from",
                "2026-02-01",
                "--industry",
                "saas",
                "--json",
                str(tmp_path / "n.json"),
            ]
        )
    finally:
        get_settings.cache_clear()
    assert code == 0
    written = json.loads((tmp_path / "n.json").read_text())
    report = report_dict(
        nps_report(
            load_dataset(sim_dir),
            ["team", "plan"],
            "Q",
            date_from=date(2026, 2, 1),
            industry="saas",
        )
    )
    assert written == json.loads(json.dumps(report))
    assert written["industry"]["low"] == 30 and "Software / SaaS" in written["industry"]["verdict"]
    assert set(written["by"]) == {"team", "plan"}
    out = capsys.readouterr().out
    assert "by plan:" in out and "figures ->" in out


def test_reversed_dates_are_refused_in_one_line(sim_dir, capsys):
    from serving.cli import main as cli

    assert cli(["nps", "--data", str(sim_dir), "--from", "2026-05-01", "--to", "2026-04-01"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "nps-risk nps: --to '2026-04-01' is before --from '2026-05-01'"
