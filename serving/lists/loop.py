"""`nps-risk simulate-loop`: the product run day by day on a simulated world whose outreach
effect is known, so the whole loop (list, calls, answers, impact) can be checked end to end.

The world (``features.simulate.LoopWorld``) has its history up to ``lists_from`` from
``simulate()``. A champion is trained on that history and promoted. Then, each day from
``lists_from`` to the end: the data known when the day began is written to a work folder,
``score_day`` makes the day's list with the champion, a share (``reach_share``) of the
flagged treatment customers is reached (the others do not pick up), every call is recorded
in the store, and the world draws the day's answers with the calls made so far.

A reached customer's later answers have their Detractor log-odds shifted by the effect of
their band at the call: ``effect_high``, ``effect_medium`` (default: midway between high and
low) or ``effect_low``, and their answer log-odds by ``answer_effect``. Only predicted-risk
calls are simulated; Detractor answers put on the list to close the loop are not worked.

``truth_effect.json`` is what ``impact`` should recover: for each customer flagged in the
loop, in the arm and band of their first flag, their first answer within ``window_days``
of that list (impact's rule), and its Detractor probability as drawn and without any
call's effect, from the simulator's own probabilities. The effect per arm is the mean of
the difference (intention to treat: reached or not); control's is zero: a control
customer reached later, as treatment in another experiment period, is censored there (their
answers after the call are not control's), as ``store.first_flags`` censors them for impact.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm import tqdm

from features.dataset import write_tables
from features.rows import as_of_timestamp
from features.simulate import LoopWorld, SimulationConfig
from nps_core.config import Settings
from nps_core.errors import NpsRiskError
from nps_core.playbooks import Band
from serving.lists.policy import ListPolicy
from serving.lists.scoring import score_day
from serving.lists.store import (
    Store,
    open_store,
    read_list,
    read_table,
    record_contact,
    risk_scores,
)
from serving.predictor import ServingModel
from training.registry import CHAMPION, load_model, promote

CALL_HOUR = 9  # the day's calls are made at 09:00 UTC, after the list and before most answers
TRUTH_FILE = "truth_effect.json"

Train = Callable[[Settings, Path], object]  # trains a challenger on a data DIR


@dataclass(frozen=True)
class LoopPlan:
    """What one simulated loop runs: the world, the team's capacity and the true effects."""

    customers: int
    days: int
    lists_from: date
    capacity: int
    effect_high: float
    effect_low: float
    effect_medium: float | None = None  # None: midway between high and low
    reach_share: float = 0.6
    answer_effect: float = 0.0
    seed: int = 0
    start: date = date(2026, 1, 1)
    control_share: float = 0.10
    window_days: int = 60  # impact's default window for later answers

    def effect(self, band: str) -> float:
        medium = (
            (self.effect_high + self.effect_low) / 2
            if self.effect_medium is None
            else self.effect_medium
        )
        return {Band.HIGH: self.effect_high, Band.MEDIUM: medium, Band.LOW: self.effect_low}[
            Band(band)
        ]


@dataclass
class LoopReport:
    plan: LoopPlan
    list_days: int
    calls: int
    reached: int
    answers_in_loop: int
    seconds: dict[str, float]
    truth: dict[str, Any]
    files: dict[str, Path] = field(default_factory=dict)

    def summary(self) -> str:
        lines = [
            f"simulated loop: {self.list_days} daily lists from {self.plan.lists_from}, "
            f"{self.calls:,} calls ({self.reached:,} reached), "
            f"{self.answers_in_loop:,} answers during the loop",
            "  true effect on the Detractor rate of flagged customers (treatment, intention to treat):",
        ]
        for row in self.truth["by_band"]:
            t = row["treatment"]
            lines.append(
                f"    {row['band']:<7} {_signed(row['effect'])}  ({t['customers']:,} flagged, "
                f"{t['answered']:,} answered; control {_signed(row['control']['effect'])})"
            )
        timing = ", ".join(f"{k} {v:.1f} s" for k, v in self.seconds.items())
        lines.append(f"  time: {timing}")
        lines += [f"  {name}: {path}" for name, path in self.files.items()]
        return "\n".join(lines)


def _signed(value: float | None) -> str:
    return "    n/a" if value is None else f"{value:+.4f}"


def loop_settings(base: Settings, out: Path) -> Settings:
    """The loop's settings: its store, outputs and (unless the settings name a tracking
    server) a throwaway MLflow home inside ``out``; on a server, its own model name, so
    the loop never moves a real champion."""
    update: dict[str, Any] = {
        "outputs_dir": out.resolve(),
        "data_dir": out.resolve(),
        "database_url": f"sqlite:///{out.resolve() / 'store.db'}",
    }
    if base.embedded_tracking:
        update["mlruns_dir"] = out.resolve() / "mlruns"
    else:
        update["model_name"] = f"{base.model_name}-loop"
    return base.model_copy(update=update)


def known_at(
    interactions: pd.DataFrame, surveys: pd.DataFrame, customers: pd.DataFrame, as_of: pd.Timestamp
) -> dict[str, pd.DataFrame]:
    """The tables as a helpdesk knew them at ``as_of``: rows from before it, and times after
    it (a later response, resolution or churn) not yet known."""
    tix = interactions[interactions["opened_at"] < as_of]
    tix = tix.assign(
        first_response_at=tix["first_response_at"].where(tix["first_response_at"] < as_of),
        resolved_at=tix["resolved_at"].where(tix["resolved_at"] < as_of),
    )
    people = customers[~(customers["signup_at"] >= as_of)]
    return {
        "interactions": tix,
        "surveys": surveys[surveys["responded_at"] < as_of],
        "customers": people.assign(
            churned_at=people["churned_at"].where(people["churned_at"] < as_of)
        ),
    }


def run_loop(
    settings: Settings, plan: LoopPlan, out: Path, *, train: Train, progress: bool = True
) -> LoopReport:
    """Run the product day by day over the later part of a simulated history (module doc)."""
    seconds: dict[str, float] = {}
    clock = time.perf_counter()
    config = SimulationConfig(
        customers=plan.customers,
        days=plan.days,
        seed=plan.seed,
        start=plan.start.isoformat(),
        dirt_rows=0,
    )
    lists_from = as_of_timestamp(plan.lists_from)
    world = LoopWorld.start(config, lists_from)
    interactions, customers = world.history.interactions, world.history.customers
    work = out / "work"
    write_tables(work, known_at(interactions, world.surveys(), customers, lists_from))
    seconds["simulate"] = time.perf_counter() - clock

    clock = time.perf_counter()
    train(settings, work)
    decision = promote(settings)
    if not (decision.promoted or decision.challenger_version == decision.champion_version):
        raise NpsRiskError(
            f"the model trained on the history before {plan.lists_from} was not promoted "
            f"({decision.reason}); give more --customers or a later --lists-from"
        )
    seconds["train"] = time.perf_counter() - clock

    clock = time.perf_counter()
    store = open_store(settings.store_url)
    served = ServingModel(load_model(settings, CHAMPION))
    policy = ListPolicy(
        capacity=plan.capacity,
        control_share=plan.control_share,
        reasons_for_top=plan.capacity,  # reasons for whom the team calls, not 10,000
    )
    reach_rng = np.random.default_rng(np.random.SeedSequence(plan.seed).spawn(7)[6])
    end = as_of_timestamp(plan.start) + pd.Timedelta(days=plan.days)
    days = pd.date_range(lists_from, end - pd.Timedelta(days=1), freq="D")
    calls = reached = 0
    for day in tqdm(days, desc="simulate-loop", unit="day", disable=not progress):
        write_tables(work, known_at(interactions, world.surveys(), customers, day))
        score_day(
            settings,
            work,
            day.date(),
            policy=policy,
            store=store,
            model=served,
            html=False,
            progress=False,
        )
        picked_up = _work_the_list(store, world, plan, day, reach_rng)
        calls, reached = calls + picked_up[0], reached + picked_up[1]
        world.answer_day(day)
    seconds["loop"] = time.perf_counter() - clock
    shutil.rmtree(work)

    surveys = world.surveys()
    files = {
        str(path.stem): path
        for path in write_tables(
            out,
            {
                "interactions": interactions,
                "surveys": surveys,
                "customers": customers,
                "truth": world.truth()[["response_id", "p_detractor", "p_untreated"]],
            },
        )
    }
    truth = true_effect(store, world.truth(), plan)
    files["truth effect"] = out / TRUTH_FILE
    files["truth effect"].write_text(json.dumps(truth, indent=2, default=str))
    files["store"] = out / "store.db"
    files["daily lists"] = settings.outputs_path / "risk_lists"
    answered = int((surveys["responded_at"] >= lists_from).sum())
    return LoopReport(plan, len(days), calls, reached, answered, seconds, truth, files)


def _work_the_list(
    store: Store, world: LoopWorld, plan: LoopPlan, day: pd.Timestamp, rng: np.random.Generator
) -> tuple[int, int]:
    """Call the day's flagged treatment customers; a share picks up. Returns (calls, reached)."""
    _, listed = read_list(store, day.date(), limit=plan.capacity, group="treatment")
    if not len(listed):
        return 0, 0
    picked_up = rng.random(len(listed)) < plan.reach_share
    at = day + pd.Timedelta(hours=CALL_HOUR)
    for customer, ok in zip(listed["customer_id"], picked_up, strict=True):
        # through the ledger, known at the call's (simulated) time: the next day's list reads
        # the ledger as recorded before its own time, as a real day would
        record_contact(
            store,
            customer_id=customer,
            contacted_at=at.to_pydatetime(),
            list_date=day.date(),
            channel="phone",
            outcome="reached" if ok else "no_answer",
            notes="simulate-loop",
            recorded_at=at.to_pydatetime(),
        )
    effects = np.array([plan.effect(band) for band in listed["band"][picked_up]])
    world.reach(listed["customer_id"][picked_up], at, effects, plan.answer_effect)
    return len(listed), int(picked_up.sum())


def true_effect(store: Store, answers: pd.DataFrame, plan: LoopPlan) -> dict[str, Any]:
    """The true effect on the Detractor rate per band and arm (module doc): each flagged
    customer's first answer within the window after their first flag, as drawn and untreated."""
    flagged = read_table(store, risk_scores, flagged=True)
    first = flagged.sort_values(["list_date", "rank"]).drop_duplicates("customer_id")
    start = pd.to_datetime(first["list_date"]).dt.tz_localize("UTC")
    joined = first[["customer_id", "grp", "band"]].assign(start=start.to_numpy())
    later = joined.merge(
        answers[["customer_id", "responded_at", "p_detractor", "p_untreated", "reached"]],
        on="customer_id",
    )
    later = later[
        (later["responded_at"] >= later["start"])
        & (later["responded_at"] < later["start"] + pd.Timedelta(days=plan.window_days))
    ]
    later = later.sort_values("responded_at").drop_duplicates("customer_id")
    # censored where the arm stops being true (store.first_flags): a control customer's
    # answer after we reached them (as treatment in a later experiment period) is not control's
    later = later[~(later["grp"].eq("control") & later["reached"].astype(bool))]

    def arm(rows: pd.DataFrame, customers: pd.DataFrame) -> dict[str, Any]:
        drawn, untreated = rows["p_detractor"].mean(), rows["p_untreated"].mean()
        effect = float(drawn - untreated) if len(rows) else None
        return {
            "customers": len(customers),
            "answered": len(rows),
            "reached_before_answer": int(rows["reached"].sum()),
            "p_detractor": None if not len(rows) else float(drawn),
            "p_untreated": None if not len(rows) else float(untreated),
            "effect": effect,
        }

    def both(rows: pd.DataFrame, customers: pd.DataFrame) -> dict[str, Any]:
        treatment = arm(
            rows[rows["grp"] == "treatment"], customers[customers["grp"] == "treatment"]
        )
        control = arm(rows[rows["grp"] == "control"], customers[customers["grp"] == "control"])
        return {"effect": treatment["effect"], "treatment": treatment, "control": control}

    return {
        "what": "mean over flagged customers' first answer within window_days of their first "
        "flag of P(Detractor) as drawn minus without the call's effect (simulator truth); "
        "effect = the treatment arm's, intention to treat",
        "plan": {**asdict(plan), "effect_medium": plan.effect(Band.MEDIUM)},
        "overall": both(later, joined),
        "by_band": [
            {
                "band": band.value,
                **both(later[later["band"] == band], joined[joined["band"] == band]),
            }
            for band in (Band.HIGH, Band.MEDIUM, Band.LOW)
        ],
    }
