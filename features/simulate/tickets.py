"""The support side: teams, agents, and the interactions (tickets) customers open.

Each customer raises issues as a Poisson process over the days (business hours weighted).
An issue's first contact comes on a channel that depends on the segment; a team owns it (by
category; enterprise desk and social care take their own) and one of its agents answers.
Two teams and four agents are measurably worse (slower, lower first-contact resolution).
First response delay is lognormal by channel (phone seconds, chat minutes, email hours). A
contact not fixed at first touch is escalated (tier 2, days, a transfer), reopened (the same
ticket, a day later) or closed unresolved; an issue still not fixed brings the customer back
a few days later (a new row, ``contacts`` + 1, up to 4, often on another channel). Sentiment
follows the outcome plus noise. A few tickets get stuck for weeks; tickets not resolved by
the end stay open (``resolved_at`` null).
"""

from __future__ import annotations

import numpy as np

from features.simulate._common import _DAY, _HOUR, _MINUTE, _Arrays, _draw_by_group, _sigmoid
from features.simulate.population import SEGMENTS

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
    times: np.ndarray = np.where(fits, shifted, plain)
    return times


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
