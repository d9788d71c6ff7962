"""A seeded simulator of support interactions, NPS surveys and customers, with the true risk.

Why: the pipeline, the models and the quarantine need data whose generating story is known,
so a model's quality can be judged against the best achievable (``truth.p_detractor``).

The story, as a support leader would tell it:

- Customers have a segment (consumer / smb / enterprise), plan, region, a contact rate and
  a latent patience nobody observes (standard normal times ``patience_sd``; 0 makes every
  customer equally patient). About ``internal_share`` of them are internal or test
  accounts (``is_internal``): they contact and answer like everyone else.
- Each customer raises issues as a Poisson process over the days (business hours weighted).
  An issue's first contact comes on a channel that depends on the segment; a team owns it
  (by category; enterprise desk and social care take their own) and one of its agents
  answers. Two teams and four agents are measurably worse (slower, lower first-contact
  resolution). First response delay is lognormal by channel (phone seconds, chat minutes,
  email hours). A contact not fixed at first touch is escalated (tier 2, days, a transfer),
  reopened (the same ticket, a day later) or closed unresolved; an issue still not fixed
  brings the customer back a few days later (a new row, ``contacts`` + 1, up to 4, often on
  another channel). Sentiment follows the outcome plus noise. A few tickets get stuck for
  weeks; tickets not resolved by the end stay open (``resolved_at`` null).
- Surveys go out minutes to 2 h after a ticket is resolved, at most one per customer per
  30 days (sends are 30 days + 21.5 h apart), about a quarter are answered, within 21.5 h
  of the send: every answer is strictly after its ticket was resolved, within 24 h of it.
- The chance of a Detractor answer is a logistic function of what happened strictly before
  ``responded_at``: trouble on tickets resolved before it, decayed with a 30-day time
  constant (not fixed, escalated, transfers, reopened, slow first response, resolution over
  two days, negative sentiment), repeat contacts (decayed on opening time), tickets still
  open, the triggering ticket's outcome, segment, channel, team and agent, a previous
  Detractor answer (decaying over 90 days) and patience (latent, so no model reaches the
  truth's AUC). The score is drawn consistently: Detractor 0-6 (lower when the risk is
  higher), else Promoter 9-10 with a share that falls with trouble, or Passive 7-8.
  Detractors churn more often, some time after their last activity.

Sizes (measured on the 2-core dev machine, shared; about 10 interactions and 1 answered
survey per customer and year; Detractor share ~25%, truth AUC ~0.8):

    customers  days   interactions   surveys   time
        2,000   180         ~9,900      ~990   ~0.05 s
        5,000   180        ~25,000    ~2,400   ~0.1 s
    1,000,000   365    ~10,100,000  ~980,000   ~45 s, ~3.3 GiB peak RSS

Dirt (``dirt_rows``; None means max(6, rows // 1000)), appended after the clean rows from
its own random stream, so the clean part equals the ``dirt_rows=0`` run. Kinds, in turn:
an interaction repeated with the same ``interaction_id``; an interaction whose
``resolved_at`` is before its ``opened_at``; an interaction without ``customer_id``; an
interaction with ``sentiment`` 3.0; a survey with score 11; a survey with score -1. Dirty
surveys get a new ``response_id`` and copy the truth of the row they came from.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from features.dataset import write_tables
from nps_core.contracts import CUSTOMERS, INTERACTIONS, SURVEYS
from nps_core.errors import ConfigError
from nps_core.scale import NPS_SCALE

_MINUTE = 60
_HOUR = 3_600
_DAY = 86_400
_NS_PER_S = 1_000_000_000
_MAX_DAYS = 10_000  # exp(days / 30) must stay far from float64 overflow in the decays

SEGMENTS = ("consumer", "smb", "enterprise")
_SEGMENT_SHARE = (0.60, 0.30, 0.10)
_ISSUES_PER_YEAR = (7.5, 10.7, 15.5)  # mean new issues per customer and year, by segment
_RATE_SIGMA = 0.8  # spread of customers' contact rates (lognormal, mean one)
_NEW_CUSTOMER_SHARE = 0.12  # customers who sign up during the simulated period

PLANS = ("free", "basic", "premium", "pro", "enterprise")
_PLAN_BY_SEGMENT = (
    (0.45, 0.40, 0.15, 0.00, 0.00),
    (0.00, 0.35, 0.00, 0.65, 0.00),
    (0.00, 0.00, 0.00, 0.30, 0.70),
)
REGIONS = ("na", "emea", "apac", "latam")
_REGION_SHARE = (0.40, 0.30, 0.20, 0.10)

CHANNELS = ("chat", "email", "phone", "social")
_CHANNEL_BY_SEGMENT = (
    (0.45, 0.25, 0.15, 0.15),
    (0.35, 0.40, 0.20, 0.05),
    (0.20, 0.45, 0.35, 0.00),
)
_FRT_MEDIAN_S = (90.0, 4 * _HOUR, 40.0, 2 * _HOUR)  # first response, by channel
_FRT_SIGMA = (1.0, 0.9, 0.8, 1.0)
_WORK_MEDIAN_S = (12 * _MINUTE, 2.5 * _HOUR, 7 * _MINUTE, 1.5 * _HOUR)  # response -> closed
_HANDLE_MEDIAN_S = (600.0, 300.0, 420.0, 240.0)
_CHANNEL_FCR = (0.0, -0.2, 0.3, -0.4)  # log-odds of fixing at first touch

CATEGORIES = ("billing", "technical", "account", "how_to", "bug", "cancellation")
_CATEGORY_SHARE = (0.22, 0.30, 0.15, 0.18, 0.10, 0.05)
_CATEGORY_FCR = (1.6, 0.7, 1.6, 2.2, 0.0, 1.0)
_CATEGORY_TEAM = (0, 1, 2, 3, 1, 2)

TEAMS = ("billing", "technical", "accounts", "general", "enterprise", "social")
_TEAM_ENTERPRISE = 4
_TEAM_SOCIAL = 5
_TEAM_FCR = (0.0, -0.5, 0.1, 0.25, 0.35, -0.6)  # technical and social care are weaker
_TEAM_SLOWNESS = (1.0, 1.6, 1.0, 0.8, 0.6, 2.2)
_AGENTS_PER_TEAM = 10
_WEAK_AGENTS = 4

_MAX_CONTACTS = 4
_DECAY_S = 30 * _DAY  # time constant of past trouble
_PRIOR_DECAY_S = 90 * _DAY  # time constant of a previous Detractor answer
_FATIGUE_S = 30 * _DAY
_MAX_SEND_DELAY_S = 2 * _HOUR
_MAX_RESPONSE_DELAY_S = int(21.5 * _HOUR)

_DETRACTOR_INTERCEPT = -2.1
_TROUBLE_SCALE = 0.45  # weight of the trouble score in the log-odds
_PATIENCE_LOGIT = 0.55
_SEGMENT_LOGIT = (0.15, 0.0, -0.15)
_CHANNEL_LOGIT = (0.0, 0.15, -0.1, 0.35)
_TEAM_LOGIT = (0.0, 0.1, 0.0, -0.1, -0.1, 0.2)

_COMMENTS_DETRACTOR = {
    "unresolved": (
        "My issue is still not fixed.",
        "They closed my ticket but the problem is still there.",
        "Nobody actually solved my problem.",
        "Still waiting for a real fix.",
    ),
    "transfers": (
        "I was passed from one agent to another.",
        "Transferred several times and had to repeat myself every time.",
        "Nobody owned my issue, I kept being transferred.",
    ),
    "escalation": (
        "I had to escalate before anything happened.",
        "Only got help after asking for a manager.",
    ),
    "waiting": (
        "Waited far too long for a reply.",
        "It took days to get an answer.",
        "Way too slow, I waited for hours.",
    ),
    "repeat": (
        "I had to contact you again and again for the same thing.",
        "Third time I am reaching out about this.",
    ),
    "general": (
        "Not happy with the support.",
        "Disappointing experience overall.",
    ),
}
_COMMENTS_PASSIVE = (
    "Fine, but it took a while.",
    "OK in the end.",
    "Solved, though I had to explain twice.",
    "Decent help, could be faster.",
)
_COMMENTS_PROMOTER = (
    "Fast and friendly help!",
    "Solved on the first contact, thanks.",
    "Quick answer and the problem is fixed.",
    "Great support, very helpful agent.",
    "Super quick response, thank you!",
)
_COMMENT_SHARE = 0.65

_DIRT_KINDS = (
    "duplicate_interaction_id",
    "resolved_before_opened",
    "missing_customer_id",
    "sentiment_out_of_range",
    "score_above_scale",
    "score_below_scale",
)

_Arrays = dict[str, np.ndarray]


@dataclass(frozen=True)
class SimulationConfig:
    """Size, seed and knobs of one simulation; the same config always gives the same tables."""

    customers: int = 2000
    days: int = 180
    seed: int = 0
    start: str = "2026-01-01"  # first simulated day, UTC
    internal_share: float = 0.01  # internal/test accounts
    dirt_rows: int | None = None  # None: max(6, rows // 1000); 0: none
    outreach_effect: float = 0.0  # reserved: log-odds change after proactive outreach; unused
    patience_sd: float = 1.0  # spread of the latent patience; 0: every customer equally patient

    def __post_init__(self) -> None:
        if self.customers < 1:
            raise ConfigError(f"customers must be at least 1, got {self.customers}")
        if not 1 <= self.days <= _MAX_DAYS:
            raise ConfigError(f"days must be between 1 and {_MAX_DAYS}, got {self.days}")
        if self.seed < 0:
            raise ConfigError(f"seed must be a non-negative integer, got {self.seed}")
        if not 0.0 <= self.internal_share <= 1.0:
            raise ConfigError(f"internal_share must be in [0, 1], got {self.internal_share}")
        if self.dirt_rows is not None and self.dirt_rows < 0:
            raise ConfigError(f"dirt_rows must be >= 0 or None, got {self.dirt_rows}")
        if not math.isfinite(self.outreach_effect):
            raise ConfigError(f"outreach_effect must be finite, got {self.outreach_effect}")
        if not (math.isfinite(self.patience_sd) and self.patience_sd >= 0):
            raise ConfigError(f"patience_sd must be finite and >= 0, got {self.patience_sd}")
        _start_ns(self.start)


@dataclass(frozen=True)
class Simulation:
    """The canonical tables plus the true Detractor probability of every survey answer."""

    interactions: pd.DataFrame
    surveys: pd.DataFrame
    customers: pd.DataFrame
    truth: pd.DataFrame  # response_id, p_detractor


def simulate(config: SimulationConfig) -> Simulation:
    """Simulate customers, their support contacts and NPS answers, vectorised and seeded."""
    streams = np.random.SeedSequence(config.seed).spawn(5)
    rng_cust, rng_tix, rng_surv, rng_churn, rng_dirt = (np.random.default_rng(s) for s in streams)
    end = config.days * _DAY
    start_ns = _start_ns(config.start)

    cust = _draw_customers(config, end, rng_cust)
    agents = _draw_agents(rng_tix)
    tix = _draw_interactions(cust, agents, end, rng_tix)
    surv = _draw_surveys(cust, agents, tix, end, rng_surv)
    churned_at = _draw_churn(cust, tix, surv, end, rng_churn)

    customer_ids = _ids("C", np.arange(1, config.customers + 1))
    interactions = _interactions_frame(tix, customer_ids, start_ns)
    surveys = _surveys_frame(surv, tix, customer_ids, start_ns)
    customers = _customers_frame(cust, churned_at, customer_ids, start_ns)
    truth = pd.DataFrame(
        {"response_id": surveys["response_id"], "p_detractor": surv["p"].astype(np.float64)}
    )

    n_dirt = config.dirt_rows
    if n_dirt is None:
        n_dirt = max(len(_DIRT_KINDS), (len(interactions) + len(surveys)) // 1000)
    if n_dirt:
        interactions, surveys, truth = _inject_dirt(interactions, surveys, truth, n_dirt, rng_dirt)
    return Simulation(interactions=interactions, surveys=surveys, customers=customers, truth=truth)


def write_simulation(sim: Simulation, out_dir: Path) -> list[Path]:
    """Write the three canonical tables and truth.parquet into out_dir; returns the paths."""
    return write_tables(
        out_dir,
        {
            "interactions": sim.interactions,
            "surveys": sim.surveys,
            "customers": sim.customers,
            "truth": sim.truth,
        },
    )


# --- customers and agents ---------------------------------------------------------------


def _draw_customers(config: SimulationConfig, end: int, rng: np.random.Generator) -> _Arrays:
    n = config.customers
    segment = rng.choice(len(SEGMENTS), size=n, p=_SEGMENT_SHARE).astype(np.int8)
    plan = _draw_by_group(rng, segment, np.asarray(_PLAN_BY_SEGMENT))
    region = rng.choice(len(REGIONS), size=n, p=_REGION_SHARE).astype(np.int8)
    patience = config.patience_sd * rng.standard_normal(n)  # drawn even at 0: same stream
    rate = np.asarray(_ISSUES_PER_YEAR)[segment] * rng.lognormal(
        -(_RATE_SIGMA**2) / 2, _RATE_SIGMA, n
    )
    internal = np.zeros(n, dtype=bool)
    n_internal = round(n * config.internal_share)
    if config.internal_share > 0:
        n_internal = max(1, n_internal)
    internal[rng.choice(n, size=n_internal, replace=False)] = True
    is_new = rng.random(n) < _NEW_CUSTOMER_SHARE
    joined = rng.integers(0, max(end - _DAY, 1), n)
    tenure = 30 * _DAY + rng.exponential(600 * _DAY, n).astype(np.int64)
    signup = np.where(is_new, joined, -tenure)
    return {
        "segment": segment,
        "plan": plan,
        "region": region,
        "patience": patience,
        "rate": rate,
        "internal": internal,
        "signup": signup,
    }


def _draw_agents(rng: np.random.Generator) -> _Arrays:
    """Agent skill (log-odds of fixing) and slowness; a few agents clearly struggle."""
    n = len(TEAMS) * _AGENTS_PER_TEAM
    skill = rng.normal(0.0, 0.3, n)
    slowness = np.exp(rng.normal(0.0, 0.15, n))
    weak = rng.choice(n, size=_WEAK_AGENTS, replace=False)
    skill[weak] -= 1.0
    slowness[weak] *= 1.8
    return {"skill": skill, "slowness": slowness}


# --- interactions ----------------------------------------------------------------------


def _draw_interactions(
    cust: _Arrays, agents: _Arrays, end: int, rng: np.random.Generator
) -> _Arrays:
    """Issues as a Poisson process per customer, then up to 4 contact rounds per issue."""
    active_from = np.maximum(cust["signup"], 0)
    span = end - active_from
    n_issues = rng.poisson(cust["rate"] * span / (365 * _DAY))
    c = np.repeat(np.arange(n_issues.size, dtype=np.int64), n_issues)
    opened = _draw_open_times(rng, active_from[c], end)
    category = rng.choice(len(CATEGORIES), size=c.size, p=_CATEGORY_SHARE).astype(np.int8)
    channel_mix = np.asarray(_CHANNEL_BY_SEGMENT)
    channel = _draw_by_group(rng, cust["segment"][c], channel_mix)
    # Time order first, so the final sort by opening time meets long sorted runs.
    by_time = np.argsort(opened, kind="stable")
    c, opened, category, channel = c[by_time], opened[by_time], category[by_time], channel[by_time]

    parts = []
    for contact in range(1, _MAX_CONTACTS + 1):
        rows = _draw_contacts(rng, cust, agents, c, category, channel, opened, contact, end)
        parts.append(rows)
        back = rows.pop("follow_up")
        follow_at = rows.pop("follow_up_at")
        if not back.any():
            break
        c, category, opened = c[back], category[back], follow_at[back]
        other = _draw_by_group(rng, cust["segment"][c], channel_mix)
        channel = np.where(rng.random(c.size) < 0.6, rows["channel"][back], other)

    tix = {key: np.concatenate([part[key] for part in parts]) for key in parts[0]}
    order = np.argsort(tix["opened"], kind="stable")  # ticket numbers follow opening time
    tix = {key: values[order] for key, values in tix.items()}
    tix["open_at_end"] = tix["resolved"] >= end
    tix["responded_late"] = tix["opened"] + tix["frt"] >= end  # no first response yet
    tix["fcr"] &= ~tix["open_at_end"]
    return tix


def _draw_open_times(rng: np.random.Generator, active_from: np.ndarray, end: int) -> np.ndarray:
    """Uniform days, mostly business hours (08-20 UTC); within [active_from, end)."""
    plain = active_from + (rng.random(active_from.size) * (end - active_from)).astype(np.int64)
    busy = rng.random(active_from.size) < 0.7
    tod = np.where(
        busy,
        8 * _HOUR + rng.integers(0, 12 * _HOUR, active_from.size),
        rng.integers(0, _DAY, active_from.size),
    )
    shifted = plain // _DAY * _DAY + tod
    fits = (shifted >= active_from) & (shifted < end)
    return np.where(fits, shifted, plain)


def _draw_contacts(
    rng: np.random.Generator,
    cust: _Arrays,
    agents: _Arrays,
    c: np.ndarray,
    category: np.ndarray,
    channel: np.ndarray,
    opened: np.ndarray,
    contact: int,
    end: int,
) -> _Arrays:
    """One contact per open issue: who handled it, how fast, and whether it got fixed."""
    m = c.size
    enterprise = cust["segment"][c] == SEGMENTS.index("enterprise")
    team = np.asarray(_CATEGORY_TEAM, dtype=np.int8)[category]
    team = np.where(enterprise & (rng.random(m) < 0.7), _TEAM_ENTERPRISE, team)
    social = channel == CHANNELS.index("social")
    team = np.where(social & (rng.random(m) < 0.8), _TEAM_SOCIAL, team).astype(np.int8)
    agent = team.astype(np.int64) * _AGENTS_PER_TEAM + rng.integers(0, _AGENTS_PER_TEAM, m)
    slow = np.asarray(_TEAM_SLOWNESS)[team] * agents["slowness"][agent]

    frt_median = np.asarray(_FRT_MEDIAN_S)[channel]
    frt_noise = np.exp(np.asarray(_FRT_SIGMA)[channel] * rng.standard_normal(m))
    frt = np.maximum(1, np.rint(frt_median * slow * np.where(enterprise, 0.6, 1.0) * frt_noise))
    frt = frt.astype(np.int64)
    work = np.asarray(_WORK_MEDIAN_S)[channel] * slow * np.exp(0.8 * rng.standard_normal(m))

    technical = (category == CATEGORIES.index("technical")) | (category == CATEGORIES.index("bug"))
    fix_logit = (
        np.asarray(_CATEGORY_FCR)[category]
        + np.asarray(_TEAM_FCR)[team]
        + agents["skill"][agent]
        + np.asarray(_CHANNEL_FCR)[channel]
        + (0.4 if contact > 1 else 0.0)
    )
    fixed_first = rng.random(m) < _sigmoid(fix_logit)
    escalate_p = _sigmoid(-0.9 + 0.9 * enterprise + 0.6 * technical)
    escalated = ~fixed_first & (rng.random(m) < escalate_p)
    reopened = ~fixed_first & ~escalated & (rng.random(m) < 0.3)
    fixed = fixed_first | (escalated & (rng.random(m) < 0.8)) | (reopened & (rng.random(m) < 0.55))
    stuck = rng.random(m) < 0.01
    extra = (
        np.where(escalated, rng.lognormal(np.log(1.5 * _DAY), 0.8, m), 0.0)
        + np.where(reopened, rng.lognormal(np.log(1.2 * _DAY), 0.6, m), 0.0)
        + np.where(stuck, rng.lognormal(np.log(20 * _DAY), 0.7, m), 0.0)
    )
    resolved = opened + frt + np.rint(work + extra).astype(np.int64) + 1
    transfers = np.minimum(6, rng.poisson(0.1 + 0.5 * ~fixed_first, m) + escalated)
    handle = np.asarray(_HANDLE_MEDIAN_S)[channel] * np.exp(0.5 * rng.standard_normal(m))
    handle = np.rint(handle * (1 + 0.5 * transfers + 0.8 * escalated + 0.5 * reopened))

    slow_frt = frt > 3 * frt_median
    long_resolution = resolved - opened > 2 * _DAY
    mood = (
        0.3
        + 0.5 * fixed_first
        + 0.3 * fixed
        - 0.9 * ~fixed
        - 0.35 * escalated
        - 0.15 * transfers
        - 0.3 * np.clip(np.log(frt / frt_median), 0, 3)
        - 0.25 * (contact > 1)
        + 0.3 * cust["patience"][c]
        + 0.5 * rng.standard_normal(m)
    )
    sentiment = np.round(np.tanh(mood), 3)

    comes_back = ~fixed & (rng.random(m) < 0.8) & (contact < _MAX_CONTACTS)
    follow_up_at = resolved + rng.lognormal(np.log(1.5 * _DAY), 0.8, m).astype(np.int64) + 1
    return {
        "c": c,
        "opened": opened,
        "frt": frt,
        "resolved": resolved,
        "handle": handle,
        "contacts": np.full(m, contact, dtype=np.int64),
        "fcr": fixed_first & (contact == 1),
        "fixed": fixed,
        "escalated": escalated,
        "reopened": reopened,
        "transfers": transfers.astype(np.int64),
        "slow_frt": slow_frt,
        "long_resolution": long_resolution,
        "sentiment": sentiment,
        "agent": agent,
        "team": team,
        "category": category,
        "channel": channel.astype(np.int8),
        "follow_up": comes_back & (follow_up_at < end),
        "follow_up_at": follow_up_at,
    }


# --- surveys and the truth ---------------------------------------------------------------


def _draw_surveys(
    cust: _Arrays, agents: _Arrays, tix: _Arrays, end: int, rng: np.random.Generator
) -> _Arrays:
    """Send after resolution with 30-day fatigue, keep the answers, draw risk and score."""
    closed = np.flatnonzero(~tix["open_at_end"])
    send = tix["resolved"][closed] + rng.integers(5 * _MINUTE, _MAX_SEND_DELAY_S, closed.size)
    in_time = send < end
    closed, send = closed[in_time], send[in_time]
    sent = _pick_with_gap(tix["c"][closed], send, _FATIGUE_S + _MAX_RESPONSE_DELAY_S)
    trigger, send = closed[sent], send[sent]

    answer_logit = (
        -1.2
        + 0.3 * ~tix["fixed"][trigger]
        - 0.2 * (tix["channel"][trigger] == CHANNELS.index("email"))
    )
    delay = np.clip(rng.lognormal(np.log(2 * _HOUR), 1.2, trigger.size), 60, _MAX_RESPONSE_DELAY_S)
    responded = send + delay.astype(np.int64)
    answered = (rng.random(trigger.size) < _sigmoid(answer_logit)) & (responded < end)
    trigger, responded = trigger[answered], responded[answered]
    order = np.argsort(responded, kind="stable")  # response numbers follow answer time
    trigger, responded = trigger[order], responded[order]
    c = tix["c"][trigger]

    trouble, base = _risk_terms(cust, agents, tix, c, trigger, responded)
    p, detractor = _draw_detractors(rng, c, responded, base)
    score, reason = _draw_scores(rng, cust, tix, c, trigger, trouble, p, detractor)
    comment = _draw_comments(rng, score, reason)
    return {
        "c": c,
        "trigger": trigger,
        "responded": responded,
        "p": p,
        "score": score,
        "comment": comment,
    }


def _pick_with_gap(c: np.ndarray, t: np.ndarray, gap: int) -> np.ndarray:
    """Positions of each customer's first event, then the first at least `gap` later, ...

    Rounds run over all customers at once; their number is bounded by days / gap + 1.
    """
    order = _by_customer_time(c, t)
    cs, ts, pos = c[order], t[order], order
    chosen = [np.empty(0, dtype=np.int64)]
    while cs.size:
        first = _group_starts(cs)
        chosen.append(pos[first])
        keep = ts >= ts[first][np.cumsum(first) - 1] + gap
        cs, ts, pos = cs[keep], ts[keep], pos[keep]
    return np.sort(np.concatenate(chosen))


def _risk_terms(
    cust: _Arrays,
    agents: _Arrays,
    tix: _Arrays,
    c: np.ndarray,
    trigger: np.ndarray,
    at: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Trouble score and Detractor log-odds from what was known strictly before `at`."""
    done = ~tix["open_at_end"]
    row_trouble = (
        1.0 * ~tix["fixed"]
        + 0.6 * tix["escalated"]
        + 0.3 * tix["transfers"]
        + 0.5 * tix["reopened"]
        + 0.5 * tix["slow_frt"]
        + 0.4 * tix["long_resolution"]
        + 0.8 * np.maximum(0.0, -tix["sentiment"])
    )
    span = 1 + max(tix["opened"].max(initial=0), tix["resolved"].max(initial=0), at.max(initial=0))
    resolved = _EventStream.build(
        tix["c"][done], tix["resolved"][done], row_trouble[done], int(span)
    )
    repeat = (tix["contacts"] > 1).astype(np.float64)
    opened = _EventStream.build(tix["c"], tix["opened"], repeat, int(span))
    # Queries in (customer, time) order: searchsorted is ~10x faster on sorted needles.
    q = _by_customer_time(c, at)
    qc, qt = c[q], at[q]
    past_trouble = _unsort(resolved.decayed_before(qc, qt, _DECAY_S), q)
    past_repeats = _unsort(opened.decayed_before(qc, qt, _DECAY_S), q)
    still_open = _unsort(opened.count_before(qc, qt) - resolved.count_before(qc, qt), q)

    t = trigger
    patience = cust["patience"][c]
    trouble = (
        0.8 * past_trouble
        + 0.35 * past_repeats
        + 0.5 * np.minimum(still_open, 3)
        + 0.9 * ~tix["fixed"][t]
        + 0.35 * tix["escalated"][t]
        + 0.2 * tix["transfers"][t]
        + 0.4 * tix["slow_frt"][t]
        + 0.35 * tix["long_resolution"][t]
        - 0.7 * tix["sentiment"][t]
        + 0.25 * (tix["contacts"][t] - 1)
    ) * np.exp(-0.25 * patience)
    base = (
        _DETRACTOR_INTERCEPT
        + _TROUBLE_SCALE * trouble
        + np.asarray(_SEGMENT_LOGIT)[cust["segment"][c]]
        + np.asarray(_CHANNEL_LOGIT)[tix["channel"][t]]
        + np.asarray(_TEAM_LOGIT)[tix["team"][t]]
        - 0.5 * agents["skill"][tix["agent"][t]]
        - _PATIENCE_LOGIT * patience
    )
    return trouble, base


def _draw_detractors(
    rng: np.random.Generator, c: np.ndarray, at: np.ndarray, base: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Detractor probability and draw, answer by answer within customer (rank rounds)."""
    u = rng.random(c.size)
    order = _by_customer_time(c, at)
    cs, ts = c[order], at[order]
    first = _group_starts(cs)
    rank = np.arange(cs.size) - np.flatnonzero(first)[np.cumsum(first) - 1]
    p_sorted = np.empty(cs.size)
    det_sorted = np.zeros(cs.size, dtype=bool)
    for r in range(int(rank.max(initial=-1)) + 1):
        now = np.flatnonzero(rank == r)
        logit = base[order[now]]
        if r:
            prev = now - 1
            memory = np.exp(-(ts[now] - ts[prev]) / _PRIOR_DECAY_S)
            logit = logit + 0.9 * det_sorted[prev] * memory
        p_sorted[now] = _sigmoid(logit)
        det_sorted[now] = u[order[now]] < p_sorted[now]
    p = np.empty(c.size)
    p[order] = p_sorted
    detractor = np.empty(c.size, dtype=bool)
    detractor[order] = det_sorted
    return p, detractor


def _draw_scores(
    rng: np.random.Generator,
    cust: _Arrays,
    tix: _Arrays,
    c: np.ndarray,
    t: np.ndarray,
    trouble: np.ndarray,
    p: np.ndarray,
    detractor: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Score 0-10 consistent with the Detractor draw, and the main reason for a comment."""
    m = c.size
    drop = np.floor(rng.exponential(0.8 + 2.5 * p, m))
    low = NPS_SCALE.detractor_max - np.minimum(drop, NPS_SCALE.detractor_max - NPS_SCALE.low)
    promoter_p = _sigmoid(1.8 - 1.2 * trouble + 0.4 * cust["patience"][c])
    promoter = rng.random(m) < promoter_p
    top = rng.random(m) < 0.55  # 10 rather than 9, 8 rather than 7
    high = np.where(promoter, NPS_SCALE.promoter_min + top, NPS_SCALE.promoter_min - 2 + top)
    score = np.where(detractor, low, high).astype(np.int64)

    reasons = tuple(_COMMENTS_DETRACTOR)
    reason = np.select(
        [
            ~tix["fixed"][t],
            tix["transfers"][t] >= 2,
            tix["escalated"][t],
            tix["slow_frt"][t] | tix["long_resolution"][t],
            tix["contacts"][t] > 1,
        ],
        [reasons.index(k) for k in ("unresolved", "transfers", "escalation", "waiting", "repeat")],
        default=reasons.index("general"),
    )
    shuffled = rng.random(m) < 0.2
    reason = np.where(shuffled, rng.integers(0, len(reasons), m), reason)
    return score, reason


def _draw_comments(rng: np.random.Generator, score: np.ndarray, reason: np.ndarray) -> np.ndarray:
    """Index into _comment_texts() per answer, -1 for no comment."""
    texts_by_reason = [len(v) for v in _COMMENTS_DETRACTOR.values()]
    offsets = np.concatenate(([0], np.cumsum(texts_by_reason)))
    u = rng.random(score.size)
    detractor_pick = offsets[reason] + (u * np.asarray(texts_by_reason)[reason]).astype(np.int64)
    passive_pick = offsets[-1] + (u * len(_COMMENTS_PASSIVE)).astype(np.int64)
    promoter_pick = (
        offsets[-1] + len(_COMMENTS_PASSIVE) + (u * len(_COMMENTS_PROMOTER)).astype(np.int64)
    )
    pick = np.select(
        [score <= NPS_SCALE.detractor_max, score < NPS_SCALE.promoter_min],
        [detractor_pick, passive_pick],
        default=promoter_pick,
    )
    return np.where(rng.random(score.size) < _COMMENT_SHARE, pick, -1)


def _comment_texts() -> tuple[str, ...]:
    detractor = tuple(text for texts in _COMMENTS_DETRACTOR.values() for text in texts)
    return detractor + _COMMENTS_PASSIVE + _COMMENTS_PROMOTER


def _draw_churn(
    cust: _Arrays, tix: _Arrays, surv: _Arrays, end: int, rng: np.random.Generator
) -> np.ndarray:
    """Churn time in seconds (-1: none): Detractors leave more, weeks after their last contact."""
    n = cust["segment"].size
    detractor = surv["score"] <= NPS_SCALE.detractor_max
    n_detractor = np.bincount(surv["c"][detractor], minlength=n)
    last = np.maximum(cust["signup"], 0)
    np.maximum.at(last, tix["c"], tix["opened"])
    np.maximum.at(last, tix["c"][~tix["open_at_end"]], tix["resolved"][~tix["open_at_end"]])
    np.maximum.at(last, surv["c"], surv["responded"])
    logit = (
        -3.0
        + 1.2 * (n_detractor > 0)
        + 0.4 * np.minimum(n_detractor, 3)
        + 0.4 * (cust["segment"] == SEGMENTS.index("consumer"))
        - 0.3 * cust["patience"]
    )
    churns = (rng.random(n) < _sigmoid(logit)) & ~cust["internal"]
    at = last + rng.exponential(21 * _DAY, n).astype(np.int64) + 1
    return np.where(churns & (at < end), at, -1)


@dataclass(frozen=True)
class _EventStream:
    """Events of one customer-keyed stream, sorted by (customer, time) once."""

    keys: np.ndarray  # customer * span + time, sorted
    c: np.ndarray
    t: np.ndarray
    level: np.ndarray  # decayed weight sum at each event, inclusive (time constant tau)
    span: int
    tau: float

    @classmethod
    def build(
        cls, c: np.ndarray, t: np.ndarray, w: np.ndarray, span: int, tau: float = _DECAY_S
    ) -> _EventStream:
        """`span` must exceed every event and query time (keys are customer * span + t)."""
        keys = c.astype(np.int64) * span + t
        order = np.argsort(keys, kind="stable")
        keys, cs, ts, ws = keys[order], c[order], t[order], w[order].astype(np.float64)
        first = _group_starts(cs)
        group = np.cumsum(first) - 1
        since_first = (ts - ts[first][group]) / tau
        # Per-customer cumulative sums: no rounding carried over from other customers.
        grown = pd.Series(ws * np.exp(since_first)).groupby(group, sort=False).cumsum()
        level = grown.to_numpy() * np.exp(-since_first)
        return cls(keys=keys, c=cs, t=ts, level=level, span=span, tau=tau)

    def _last_before(self, c: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        idx = np.searchsorted(self.keys, c.astype(np.int64) * self.span + t, side="left") - 1
        safe = np.maximum(idx, 0)
        found = (idx >= 0) & (self.c[safe] == c) if self.keys.size else np.zeros(c.size, bool)
        return safe, found

    def decayed_before(self, c: np.ndarray, t: np.ndarray, tau: float) -> np.ndarray:
        """Sum of w * exp(-(t - t_j) / tau) over the customer's events with t_j < t."""
        if tau != self.tau:
            raise ValueError("stream built with another time constant")
        if not self.keys.size:
            return np.zeros(c.size)
        idx, found = self._last_before(c, t)
        return np.where(found, self.level[idx] * np.exp(-(t - self.t[idx]) / tau), 0.0)

    def count_before(self, c: np.ndarray, t: np.ndarray) -> np.ndarray:
        """Number of the customer's events with time < t."""
        hi = np.searchsorted(self.keys, c.astype(np.int64) * self.span + t, side="left")
        lo = np.searchsorted(self.keys, c.astype(np.int64) * self.span, side="left")
        return hi - lo


# --- frames -----------------------------------------------------------------------------


def _interactions_frame(tix: _Arrays, customer_ids: pa.Array, start_ns: int) -> pd.DataFrame:
    n = tix["c"].size
    open_at_end = tix["open_at_end"]
    columns = {
        "interaction_id": _str(_ids("I", np.arange(1, n + 1))),
        "customer_id": _labels(tix["c"], customer_ids),
        "channel": _labels(tix["channel"], pa.array(CHANNELS)),
        "opened_at": _timestamps(tix["opened"], start_ns),
        "first_response_at": _timestamps(
            tix["opened"] + tix["frt"], start_ns, missing=tix["responded_late"]
        ),
        "resolved_at": _timestamps(tix["resolved"], start_ns, missing=open_at_end),
        "handle_time_s": tix["handle"].astype(np.float64),
        "contacts": pd.array(tix["contacts"], dtype="Int64"),
        "first_contact_resolved": pd.array(tix["fcr"], dtype="boolean"),
        "escalated": pd.array(tix["escalated"], dtype="boolean"),
        "reopened": pd.array(tix["reopened"], dtype="boolean"),
        "transfers": pd.array(tix["transfers"], dtype="Int64"),
        "sentiment": tix["sentiment"].astype(np.float64),
        "agent_id": _labels(
            tix["agent"], _ids("A", np.arange(1, len(TEAMS) * _AGENTS_PER_TEAM + 1), 3)
        ),
        "team": _labels(tix["team"], pa.array(TEAMS)),
        "category": _labels(tix["category"], pa.array(CATEGORIES)),
    }
    return pd.DataFrame({name: columns[name] for name in INTERACTIONS.names})


def _surveys_frame(
    surv: _Arrays, tix: _Arrays, customer_ids: pa.Array, start_ns: int
) -> pd.DataFrame:
    n = surv["c"].size
    comment = surv["comment"]
    columns = {
        "response_id": _str(_ids("R", np.arange(1, n + 1))),
        "customer_id": _labels(surv["c"], customer_ids),
        "responded_at": _timestamps(surv["responded"], start_ns),
        "score": pd.array(surv["score"], dtype="Int64"),
        "comment": _labels(comment, pa.array(_comment_texts()), missing=comment < 0),
        "interaction_id": _str(_ids("I", surv["trigger"] + 1, width=_id_width(tix["c"].size))),
        "channel": _labels(tix["channel"][surv["trigger"]], pa.array(CHANNELS)),
    }
    return pd.DataFrame({name: columns[name] for name in SURVEYS.names})


def _customers_frame(
    cust: _Arrays, churned_at: np.ndarray, customer_ids: pa.Array, start_ns: int
) -> pd.DataFrame:
    columns = {
        "customer_id": _str(customer_ids),
        "segment": _labels(cust["segment"], pa.array(SEGMENTS)),
        "plan": _labels(cust["plan"], pa.array(PLANS)),
        "region": _labels(cust["region"], pa.array(REGIONS)),
        "signup_at": _timestamps(cust["signup"], start_ns),
        "is_internal": pd.array(cust["internal"], dtype="boolean"),
        "churned_at": _timestamps(churned_at, start_ns, missing=churned_at < 0),
    }
    return pd.DataFrame({name: columns[name] for name in CUSTOMERS.names})


def _inject_dirt(
    interactions: pd.DataFrame,
    surveys: pd.DataFrame,
    truth: pd.DataFrame,
    n: int,
    rng: np.random.Generator,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Append n malformed rows (kinds in turn, see the module docstring); inputs untouched."""
    counts = np.bincount(np.arange(n) % len(_DIRT_KINDS), minlength=len(_DIRT_KINDS))
    bad_tix = _dirty_interactions(interactions, counts[:4], rng)
    bad_surveys, source = _dirty_surveys(surveys, counts[4:], rng)
    bad_truth = pd.DataFrame(
        {
            "response_id": bad_surveys["response_id"],
            "p_detractor": truth["p_detractor"].to_numpy()[source],
        }
    )
    return (
        pd.concat([interactions, bad_tix], ignore_index=True),
        pd.concat([surveys, bad_surveys], ignore_index=True),
        pd.concat([truth, bad_truth], ignore_index=True),
    )


def _dirty_interactions(
    interactions: pd.DataFrame, counts: np.ndarray, rng: np.random.Generator
) -> pd.DataFrame:
    """Copies of random rows: same id, resolved before opened, no customer, sentiment 3."""
    if not len(interactions):
        return interactions.iloc[:0]
    kind = np.repeat(np.arange(counts.size), counts)
    rows = interactions.iloc[rng.integers(0, len(interactions), kind.size)]
    rows = rows.reset_index(drop=True)
    duplicate = kind == _DIRT_KINDS.index("duplicate_interaction_id")
    numbers = len(interactions) + np.cumsum(~duplicate)
    new_ids = _str(_ids("I", numbers, _id_width(len(interactions))))
    back = pd.to_timedelta(rng.integers(_HOUR, 3 * _DAY, kind.size) * _NS_PER_S, unit="ns")
    return rows.assign(
        interaction_id=rows["interaction_id"].where(duplicate, new_ids),
        resolved_at=rows["resolved_at"].where(
            kind != _DIRT_KINDS.index("resolved_before_opened"), rows["opened_at"] - back
        ),
        customer_id=rows["customer_id"].where(kind != _DIRT_KINDS.index("missing_customer_id")),
        sentiment=rows["sentiment"].where(kind != _DIRT_KINDS.index("sentiment_out_of_range"), 3.0),
    )


def _dirty_surveys(
    surveys: pd.DataFrame, counts: np.ndarray, rng: np.random.Generator
) -> tuple[pd.DataFrame, np.ndarray]:
    """Copies of random answers with a new response_id and a score of 11 or -1."""
    if not len(surveys):
        return surveys.iloc[:0], np.empty(0, dtype=np.int64)
    above = np.repeat([True, False], counts)
    source = rng.integers(0, len(surveys), above.size)
    rows = surveys.iloc[source].reset_index(drop=True)
    numbers = len(surveys) + 1 + np.arange(above.size)
    score = np.where(above, NPS_SCALE.high + 1, NPS_SCALE.low - 1)
    return (
        rows.assign(
            response_id=_str(_ids("R", numbers, _id_width(len(surveys)))),
            score=pd.array(score, dtype="Int64"),
        ),
        source,
    )


# --- small helpers ----------------------------------------------------------------------


def _start_ns(start: str) -> int:
    try:
        stamp = pd.Timestamp(start)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"start must be a date like '2026-01-01', got {start!r}") from exc
    if stamp is pd.NaT:
        raise ConfigError(f"start must be a date like '2026-01-01', got {start!r}")
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return int(stamp.as_unit("ns").value)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _draw_by_group(rng: np.random.Generator, group: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """Category code per row, row i drawn from probs[group[i]] (inverse CDF, small loop)."""
    cum = np.cumsum(probs, axis=1)
    u = rng.random(group.size)
    codes = np.zeros(group.size, dtype=np.int8)
    for j in range(probs.shape[1] - 1):
        codes += u >= cum[group, j]
    return codes


def _by_customer_time(c: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Positions that sort rows by (customer, time); one int64 key, no lexsort."""
    if not t.size:
        return np.empty(0, dtype=np.int64)
    low = t.min()
    key = c.astype(np.int64) * (int(t.max() - low) + 1) + (t - low)
    return np.argsort(key, kind="stable")


def _unsort(values: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Inverse of values = original[order]."""
    out = np.empty_like(values)
    out[order] = values
    return out


def _group_starts(sorted_codes: np.ndarray) -> np.ndarray:
    """True at the first row of each run of equal codes."""
    first = np.ones(sorted_codes.size, dtype=bool)
    first[1:] = sorted_codes[1:] != sorted_codes[:-1]
    return first


def _id_width(n: int) -> int:
    return max(7, len(str(n)))


def _ids(prefix: str, numbers: np.ndarray, width: int | None = None) -> pa.Array:
    """'C0000001'-style ids built in Arrow (fast for millions)."""
    width = _id_width(int(numbers.max(initial=0))) if width is None else width
    digits = pc.utf8_lpad(pa.array(numbers, pa.int64()).cast(pa.string()), width, "0")
    return pc.binary_join_element_wise(prefix, digits, "")


def _str(values: pa.Array) -> pd.Series:
    return pd.Series(pd.array(values, dtype="str"))


def _labels(codes: np.ndarray, labels: pa.Array, missing: np.ndarray | None = None) -> pd.Series:
    """Codes -> their labels as a pandas str column (Arrow dictionary decode)."""
    indices = pa.array(codes.astype(np.int32), mask=missing)
    return _str(pa.DictionaryArray.from_arrays(indices, labels).cast(pa.string()))


def _timestamps(seconds: np.ndarray, start_ns: int, missing: np.ndarray | None = None) -> pd.Series:
    ns = start_ns + seconds.astype(np.int64) * _NS_PER_S
    if missing is not None:
        ns = np.where(missing, np.iinfo(np.int64).min, ns)  # int64 min is NaT
    return pd.Series(ns.view("datetime64[ns]")).dt.tz_localize("UTC")
