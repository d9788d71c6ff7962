"""simulate-loop: the product day by day on a simulated world with a known outreach effect."""

import json
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from features.rows import as_of_timestamp
from nps_core.config import Settings
from serving.cli import main
from serving.lists.loop import LoopPlan, known_at, loop_settings, run_loop
from serving.lists.policy import ListPolicy
from serving.lists.scoring import score_day
from serving.lists.store import open_store, outreach, read_table, risk_scores
from training.workflow import train_from_data

# 2,000 customers, 60 daily lists after 240 days of history (enough answers for the gate)
PLAN = LoopPlan(
    customers=2000,
    days=300,
    lists_from=date(2026, 8, 29),
    capacity=20,
    effect_high=-3.0,
    effect_low=0.0,
    seed=3,
)


@pytest.fixture(scope="module")
def loop(tmp_path_factory):
    out = tmp_path_factory.mktemp("loop")
    settings = loop_settings(Settings(home=out), out)
    report = run_loop(settings, PLAN, out, train=train_from_data, progress=False)
    return settings, out, report


def test_the_loop_writes_a_data_dir_the_store_and_the_truth(loop):
    _, out, report = loop
    for name in ("interactions", "surveys", "customers", "truth"):
        assert (out / f"{name}.parquet").is_file()
    assert (out / "store.db").is_file()
    lists = sorted((out / "risk_lists").glob("2026-*.csv"))
    assert len([p for p in lists if "-" not in p.stem[10:]]) == report.list_days == 60
    surveys = pd.read_parquet(out / "surveys.parquet")
    assert surveys["response_id"].is_unique
    assert report.calls == 60 * PLAN.capacity
    assert 0.4 < report.reached / report.calls < 0.8  # reach share 0.6
    truth = json.loads((out / "truth_effect.json").read_text())
    assert [row["band"] for row in truth["by_band"]] == ["high", "medium", "low"]
    print(report.summary())  # the figures and the time, in the test log


def test_a_strong_effect_lowers_the_high_bands_true_detractor_rate(loop):
    _, out, _ = loop
    truth = json.loads((out / "truth_effect.json").read_text())
    high = truth["by_band"][0]
    assert high["treatment"]["answered"] > 0
    assert high["effect"] < -0.05
    assert high["control"]["effect"] in (None, 0.0) or abs(high["control"]["effect"]) < 0.05
    low = truth["by_band"][2]
    assert low["effect"] in (None, 0.0)  # effect_low is 0


def test_no_control_customer_is_ever_called(loop):
    settings, _, _ = loop
    store = open_store(settings.store_url)
    calls = read_table(store, outreach)
    listed = read_table(store, risk_scores)
    assert len(calls) == 60 * PLAN.capacity
    joined = calls.merge(listed, on=["customer_id", "list_date"], how="left")
    assert joined["grp"].eq("treatment").all() and joined["flagged"].astype(bool).all()
    # each day's sheet to work never names one of that day's control customers (the arm is
    # the month's today; with the ledger's experiment period, the period's)
    for sheet in sorted((settings.outputs_path / "risk_lists").glob("2026-??-??.csv")):
        day = date.fromisoformat(sheet.stem)
        control = listed.loc[(listed["list_date"] == day) & (listed["grp"] == "control")]
        assert len(control)
        assert not set(pd.read_csv(sheet)["customer_id"]) & set(control["customer_id"])


def test_a_past_date_of_the_loop_gives_the_same_list_again(loop, tmp_path):
    settings, out, _ = loop
    store = open_store(settings.store_url)
    day = date(2026, 9, 20)
    before = read_table(store, risk_scores, list_date=day)
    tables = {
        name: pd.read_parquet(out / f"{name}.parquet")
        for name in ("interactions", "surveys", "customers")
    }
    from features.dataset import write_tables

    write_tables(tmp_path, known_at(**tables, as_of=as_of_timestamp(day)))
    again = settings.model_copy(update={"outputs_dir": tmp_path / "outputs"})
    policy = ListPolicy(capacity=PLAN.capacity, control_share=PLAN.control_share)
    score_day(again, tmp_path, day, policy=policy, store=store, html=False, progress=False)
    after = read_table(store, risk_scores, list_date=day)
    columns = ["customer_id", "rank", "probability", "band", "grp", "flagged", "action"]
    pd.testing.assert_frame_equal(
        before.sort_values("rank")[columns].reset_index(drop=True),
        after.sort_values("rank")[columns].reset_index(drop=True),
    )


def test_with_no_effect_the_true_effect_is_zero(loop, tmp_path):
    settings, _, _ = loop
    plan = LoopPlan(**{**PLAN.__dict__, "days": 250, "effect_high": 0.0, "effect_low": 0.0})
    zero = settings.model_copy(
        update={"outputs_dir": tmp_path, "database_url": f"sqlite:///{tmp_path / 'store.db'}"}
    )  # the same world's history, so the champion of the first loop serves (no training)
    run_loop(zero, plan, tmp_path, train=lambda *_: None, progress=False)
    truth = json.loads((tmp_path / "truth_effect.json").read_text())
    for row in [truth["overall"], *truth["by_band"]]:
        assert row["effect"] in (None, 0.0)
        assert row["control"]["effect"] in (None, 0.0)


@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [
        ("--effect-high", "strong", "--effect-high 'strong' is not a log-odds change"),
        ("--reach-share", "1.5", "--reach-share '1.5' is not a share in [0, 1]"),
        ("--capacity", "0", "--capacity '0' is not a positive whole number"),
        ("--lists-from", "2027-06-01", "--lists-from '2027-06-01' must fall after --start"),
    ],
)
def test_a_bad_argument_is_one_line_naming_the_flag(flag, value, message, tmp_path, capsys):
    args = {
        "--customers": "100",
        "--days": "90",
        "--lists-from": "2026-03-01",
        "--capacity": "5",
        "--effect-high": "-1",
        "--effect-low": "0",
        "--seed": "1",
        "--out": str(tmp_path / "loop"),
        flag: value,
    }
    argv = ["simulate-loop", *[part for pair in args.items() for part in pair]]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err
    assert not Path(tmp_path / "loop").exists()
