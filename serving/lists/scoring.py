"""`nps-risk score`: the daily list from a data DIR, into the store and outputs/risk_lists/.

Features are a snapshot as of 00:00 UTC of the list date (what was known when the day
began), from the same feature code as training and the API.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd
from tqdm import tqdm

from features.database import is_database_url, open_source, shown_url
from features.dataset import (
    DataSource,
    LoadReport,
    load_dataset,
    quarantine_beside,
    write_quarantine,
)
from features.ingest import rebuild_history
from features.rows import as_of_timestamp, internal_ids, snapshot_as_of
from nps_core.config import Settings
from nps_core.errors import NpsRiskError
from nps_core.playbooks import ACTIONS, CONTROL_ACTION, band_for
from serving.lists.ledger import (
    CLOSED,
    DETRACTOR_ANSWER,
    EXPIRED,
    PREDICTED_RISK,
    WAITING,
    TeamFigure,
    answer_follow_up_id,
    expiries,
    risk_follow_up_id,
    sla_clock,
)
from serving.lists.policy import (
    ListPolicy,
    answer_follow_ups,
    exclusions,
    in_control,
    period_label,
    rank_and_flag,
)
from serving.lists.store import (
    Store,
    ledger_state,
    open_store,
    read_ledger,
    read_outreach,
    replace_list,
    team_figures_as_of,
)
from serving.predictor import ServingModel
from training.registry import CHAMPION, load_model


@dataclass
class ScoreReport:
    list_date: date
    run_id: str
    model_version: str
    counts: dict[str, int]
    left_out: dict[str, int]
    files: dict[str, Path] = field(default_factory=dict)
    load: LoadReport | None = None  # what the data DIR's load read, kept and quarantined
    history_answers: int | None = None  # a database source: answers in its refreshed history

    def summary(self) -> str:
        c = self.counts
        lines = [
            f"risk list for {self.list_date} (model version {self.model_version}, run {self.run_id})",
            f"  close the loop: {c['detractor_follow_ups']} Detractor answers to follow up ({c['overdue']} overdue); "
            f"{c['passive_follow_ups']} Passives, {c['promoter_follow_ups']} Promoters",
            f"  predicted risk: {c['scored']:,} active customers scored, {c['eligible']:,} eligible; "
            f"{c['to_call']} to call today, {c['control_flagged']} in the control group",
            "  left out: "
            + (", ".join(f"{n:,} {why}" for why, n in self.left_out.items()) or "nobody"),
        ]
        lines += [f"  {name}: {path}" for name, path in self.files.items()]
        if self.history_answers is not None:
            lines.append(
                f"  agent/team history of the database source refreshed: "
                f"{self.history_answers:,} answers"
            )
        return "\n".join(lines)


def _advance(bar: tqdm[Any], stage: str) -> None:
    bar.set_postfix_str(stage)
    bar.update(1)


def _write_atomic(path: Path, write: Callable[[Path], object]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    write(tmp)
    os.replace(tmp, path)


def score_day(
    settings: Settings,
    data_dir: DataSource,
    list_date: date | str | None = None,
    *,
    policy: ListPolicy | None = None,
    store: Store | None = None,
    model: ServingModel | None = None,
    html: bool = True,
    pause: Callable[[], None] | None = None,
    progress: bool = True,
) -> ScoreReport:
    policy = policy or ListPolicy(
        capacity=settings.daily_capacity,
        control_share=settings.control_share,
        period=settings.experiment_period,
        predicted_follow_up_hours=settings.predicted_follow_up_hours,
    )
    as_of = as_of_timestamp(
        pd.Timestamp(list_date).date() if list_date is not None else datetime.now(UTC).date()
    )
    day = as_of.date()
    steps = tqdm(total=5, desc=f"risk list {day}", disable=not progress, unit="step")
    with ThreadPoolExecutor(max_workers=1) as background:
        # the model and the store load while the tables are read and validated
        champion = background.submit(lambda: model or ServingModel(load_model(settings, CHAMPION)))
        opened = background.submit(lambda: store or open_store(settings.store_url))
        dataset = load_dataset(data_dir, workers=settings.threads)
        served, store = champion.result(), opened.result()
    if served.spec is None:
        raise NpsRiskError(
            "the champion was trained on a feature table; a daily list needs one trained on a data DIR"
        )
    # point in time: only what the store knew before this run (a re-run reads the same)
    calls = read_outreach(store, before=as_of.to_pydatetime())
    known = ledger_state(*read_ledger(store, as_of.to_pydatetime(), before=True))
    expired = expiries(known, as_of)  # waiting and past due: expired as of this run
    known = known.assign(
        status=known["status"].mask(known["follow_up_id"].isin(expired["follow_up_id"]), EXPIRED)
    )
    # waiting for a first reach: not listed again; a reached one is kept off by the 30-day
    # contact rule (exclusions), so a follow-up nobody resolves never holds a customer for good
    live = known[known["status"].isin(WAITING)]
    _advance(steps, "features")

    snapshot = snapshot_as_of(
        dataset.interactions,
        dataset.surveys,
        dataset.customers,
        as_of,
        served.spec,
        workers=settings.threads,
    )
    internal = set(internal_ids(dataset.customers))
    # contacts against a ledger follow-up count through the ledger; the rest (no follow-up,
    # e.g. logged before the ledger) as before: a call after the answer follows it up
    unlinked = calls[calls["follow_up_id"].isna()] if len(calls) else calls
    follow = _with_ledger(
        answer_follow_ups(dataset.surveys, unlinked, as_of, served.spec.scale, policy, internal),
        known,
        as_of,
    )
    _advance(steps, "scoring")

    matrix = served.model.encoder_.transform(snapshot)
    probability = served.model.predict_matrix(matrix) if len(snapshot) else np.array([])
    scored = pd.DataFrame(
        {
            "customer_id": snapshot["customer_id"].astype(str),
            "probability": probability,
            "owner_team": snapshot["last_team"],
        }
    )
    in_follow_up = set(follow.loc[follow["kind"] == "detractor", "customer_id"]) | set(
        live["customer_id"]
    )
    why = exclusions(scored["customer_id"], as_of, dataset.surveys, calls, in_follow_up, policy)
    eligible = scored[why.isna().to_numpy()].reset_index(drop=True)
    label = period_label(as_of, policy.period)
    ranked = rank_and_flag(
        eligible, in_control(eligible["customer_id"], label, policy.control_share), policy.capacity
    )
    bands = [
        band_for(p, served.bands["high"], served.bands["medium"]) for p in ranked["probability"]
    ]
    actions = np.array([ACTIONS[b] for b in bands], dtype=object)
    actions[ranked["grp"].eq("control").to_numpy()] = CONTROL_ACTION  # never someone to call
    ranked = ranked.assign(band=[b.value for b in bands], action=actions, reasons=None)
    _advance(steps, "reasons")

    top = ranked.head(policy.reasons_for_top)
    if len(top):
        position = pd.Series(
            np.arange(len(snapshot)), index=snapshot["customer_id"].astype(str).to_numpy()
        )
        rows = position.loc[top["customer_id"]].to_numpy()
        answers = served.answer(list(top["customer_id"]), matrix[rows])
        ranked.loc[top.index, "reasons"] = [json.dumps(a.reasons, default=str) for a in answers]
    run_id = uuid.uuid4().hex
    to_work = ranked["flagged"] & ranked["grp"].eq("treatment")  # never a control row
    ranked = ranked.assign(
        list_date=day,
        model_version=served.version,
        run_id=run_id,
        period=label,
        follow_up_id=ranked["customer_id"].map(lambda c: risk_follow_up_id(c, day)).where(to_work),
    )
    follow_rows = follow.assign(
        list_date=day,
        run_id=run_id,
        owner_team=follow["customer_id"].map(  # a Series maps by index: no 811k-item dict
            pd.Series(scored["owner_team"].to_numpy(), index=scored["customer_id"].to_numpy())
        ),
        grp=np.where(
            in_control(follow["customer_id"], label, policy.control_share)
            & (follow["kind"] != "detractor"),
            "control",
            "treatment",
        ),
    )
    follow_rows = follow_rows.assign(
        action=follow_rows["action"].mask(follow_rows["grp"].eq("control"), CONTROL_ACTION),
        period=label,
    )
    new_follow_ups = _opened(ranked[to_work], follow_rows, known, as_of, label, policy)
    left_out = cast("dict[str, int]", why.value_counts().to_dict())  # reasons are text
    left_out["internal or test accounts"] = len(internal)
    beyond = int((ranked["grp"].eq("treatment") & ~ranked["flagged"]).sum())
    left_out[f"beyond today's capacity of {policy.capacity}"] = beyond
    counts = {
        "scored": len(scored),
        "eligible": len(eligible),
        "to_call": int((ranked["flagged"] & ranked["grp"].eq("treatment")).sum()),
        "control_flagged": int((ranked["flagged"] & ranked["grp"].eq("control")).sum()),
        "detractor_follow_ups": int((follow["kind"] == "detractor").sum()),
        "overdue": int(follow["overdue"].fillna(False).astype(bool).sum()),
        "follow_ups_opened": len(new_follow_ups),
        "follow_ups_expired": len(expired),
        "follow_ups_in_progress": len(live),
        "passive_follow_ups": int((follow["kind"] == "passive").sum()),
        "promoter_follow_ups": int((follow["kind"] == "promoter").sum()),
    }
    run = {
        "run_id": run_id,
        "list_date": day,
        "started_at": datetime.now(UTC),
        "finished_at": None,
        "model_name": served.loaded.name,
        "model_version": served.version,
        "summary": {
            "counts": counts,
            "left_out": left_out,
            "policy": policy.__dict__,
            "data": shown_url(data_dir) if is_database_url(data_dir) else str(data_dir),
        },
    }
    _advance(steps, "saving")
    report = ScoreReport(
        day,
        run_id,
        served.version,
        counts,
        {k: int(v) for k, v in left_out.items() if v},
        load=dataset.report,
    )
    replace_list(
        store,
        day,
        run={**run, "finished_at": datetime.now(UTC)},
        scores=ranked,
        followups=follow_rows,
        opened=new_follow_ups,
        events=expired[["follow_up_id"]].assign(status=EXPIRED, at=as_of, recorded_at=as_of),
        pause=pause,
    )
    teams = team_figures_as_of(store, as_of.to_pydatetime())
    report.files = write_outputs(
        settings,
        report,
        _clocked(ranked, as_of, policy.predicted_follow_up_hours),
        follow_rows,
        dataset.quarantine,
        teams,
        html=html,
    )
    if isinstance(data_dir, str) and is_database_url(data_dir):
        # the live routes' agent/team history, recomputed from the tables once a day
        report.history_answers = rebuild_history(open_source(data_dir), dataset.scale)
    steps.update(1)
    steps.close()
    return report


def write_outputs(
    settings: Settings,
    report: ScoreReport,
    ranked: pd.DataFrame,
    follow: pd.DataFrame,
    quarantine: pd.DataFrame | None = None,
    teams: list[TeamFigure] | None = None,
    *,
    html: bool = True,
) -> dict[str, Path]:
    """The list to work (outreach group only), the control list for analysts, an HTML summary,
    and the rows the load set aside (after the store's commit)."""
    from serving.lists.report import render_summary

    folder = settings.outputs_path / "risk_lists"
    folder.mkdir(parents=True, exist_ok=True)
    day = report.list_date.isoformat()
    work = _work_list(
        ranked[ranked["flagged"] & ranked["grp"].eq("treatment")],
        follow[follow["grp"].eq("treatment")],
    )
    control = ranked[ranked["flagged"] & ranked["grp"].eq("control")][
        ["rank", "customer_id", "probability", "band", "owner_team", "action"]
    ]
    files = {
        "list to work": folder / f"{day}.csv",
        "control group": folder / f"{day}-control.csv",
    }
    _write_atomic(files["list to work"], lambda p: work.to_csv(p, index=False))
    _write_atomic(files["control group"], lambda p: control.to_csv(p, index=False))
    if html:  # the summary's chart is most of a small list's time (simulate-loop skips it)
        files["summary"] = folder / f"{day}.html"
        page = render_summary(report, ranked, follow, teams or [])
        _write_atomic(files["summary"], lambda p: p.write_text(page))
    if quarantine is not None:
        files["quarantined rows"] = quarantine_beside(files["list to work"])
        _write_atomic(files["quarantined rows"], lambda p: write_quarantine(p, quarantine))
    return files


def _work_list(predicted: pd.DataFrame, follow: pd.DataFrame) -> pd.DataFrame:
    """One sheet: close the loop first (Detractors by urgency), then predicted risk by rank."""

    def reasons_text(raw: Any) -> str:
        return "; ".join(r["text"] for r in json.loads(raw)) if isinstance(raw, str) else ""

    loop = follow.sort_values(
        ["kind", "hours_left"],
        key=lambda s: (
            s.map({"detractor": 0, "passive": 1, "promoter": 2}) if s.name == "kind" else s
        ),
        kind="stable",
    )
    part1 = pd.DataFrame(
        {
            "part": loop["kind"].map(
                {
                    "detractor": "close the loop: Detractor",
                    "passive": "Passive: ask what is missing",
                    "promoter": "Promoter: ask for a referral",
                }
            ),
            "customer_id": loop["customer_id"],
            "owner_team": loop["owner_team"],
            "follow_up_id": loop["follow_up_id"],
            "status": loop["status"],
            "due_at": loop["due_at"].map(_iso),
            "hours_left": loop["hours_left"].round(1),
            "overdue": loop["overdue"],
            "score": loop["score"],
            "comment": loop["comment"],
            "action": loop["action"],
        }
    )
    part2 = pd.DataFrame(
        {
            "part": "predicted risk",
            "customer_id": predicted["customer_id"],
            "owner_team": predicted["owner_team"],
            "follow_up_id": predicted["follow_up_id"],
            "status": predicted["status"],
            "due_at": predicted["due_at"].map(_iso),
            "hours_left": predicted["hours_left"],
            "overdue": predicted["overdue"],
            "rank": predicted["rank"],
            "probability": predicted["probability"].round(4),
            "band": predicted["band"],
            "reasons": predicted["reasons"].map(reasons_text),
            "action": predicted["action"],
        }
    )
    return pd.concat([part1, part2], ignore_index=True)


def _iso(stamp: Any) -> str:
    return "" if pd.isna(stamp) else pd.Timestamp(stamp).isoformat()


def _with_ledger(follow: pd.DataFrame, known: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """Detractor answers with their ledger follow-up and SLA clock as of the run; a closed
    one (resolved, declined, expired) never comes back."""
    detractor = follow["kind"].eq("detractor")
    ids = follow["response_id"].astype(str).map(answer_follow_up_id).where(detractor)
    status = ids.map(known.set_index("follow_up_id")["status"]).where(detractor)
    status = status.mask(detractor & status.isna(), "open")  # new today
    follow = follow.assign(follow_up_id=ids, status=status)
    follow = follow[~follow["status"].isin(CLOSED)].reset_index(drop=True)
    clock = sla_clock(follow["due_at"], follow["status"].fillna(""), as_of)
    return follow.assign(hours_left=clock["hours_left"], overdue=clock["overdue"])


def _opened(
    to_work: pd.DataFrame,
    follow: pd.DataFrame,
    known: pd.DataFrame,
    as_of: pd.Timestamp,
    label: str,
    policy: ListPolicy,
) -> pd.DataFrame:
    """The follow-ups this run opens: Detractor answers new to the ledger (due 24 hours
    after the answer) and today's flagged treatment customers (due after
    ``policy.predicted_follow_up_hours``)."""
    new = follow[
        follow["kind"].eq("detractor") & ~follow["follow_up_id"].isin(known["follow_up_id"])
    ]
    answers = pd.DataFrame(
        {
            "follow_up_id": new["follow_up_id"],
            "customer_id": new["customer_id"],
            "kind": DETRACTOR_ANSWER,
            "response_id": new["response_id"],
            "owner_team": new["owner_team"],
            "band": None,
            "probability": np.nan,
            "created_at": new["responded_at"],
            "due_at": new["due_at"],
        }
    )
    predicted = pd.DataFrame(
        {
            "follow_up_id": to_work["follow_up_id"],
            "customer_id": to_work["customer_id"],
            "kind": PREDICTED_RISK,
            "response_id": None,
            "owner_team": to_work["owner_team"],
            "band": to_work["band"],
            "probability": to_work["probability"],
            "created_at": as_of,
            "due_at": as_of + pd.Timedelta(hours=policy.predicted_follow_up_hours),
        }
    )
    both = pd.concat([answers, predicted], ignore_index=True)
    return both.assign(
        list_date=as_of.date(), period=label, arm="treatment", recorded_at=as_of
    ).astype({"created_at": "datetime64[ns, UTC]", "due_at": "datetime64[ns, UTC]"})


def _clocked(ranked: pd.DataFrame, as_of: pd.Timestamp, hours: float) -> pd.DataFrame:
    """Flagged treatment rows carry their follow-up's status, due time and SLA clock as of
    the run."""
    work = ranked["follow_up_id"].notna()
    due = pd.Series(as_of + pd.Timedelta(hours=hours), index=ranked.index).where(work)
    status = pd.Series("open", index=ranked.index, dtype=object).where(work)
    clock = sla_clock(due, status.fillna(""), as_of)
    return ranked.assign(
        status=status, due_at=due, hours_left=clock["hours_left"], overdue=clock["overdue"]
    )
