"""The hidden truth: each survey answer's Detractor probability and the Detractor draw.

The chance of a Detractor answer is a logistic function of what happened strictly before
``responded_at``: trouble on tickets resolved before it, decayed with a 30-day time constant
(not fixed, escalated, transfers, reopened, slow first response, resolution over two days,
negative sentiment), repeat contacts (decayed on opening time), tickets still open, the
triggering ticket's outcome, segment, channel, team and agent, a previous Detractor answer
(decaying over 90 days) and patience (latent, so no model reaches the truth's AUC).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.simulate._common import (
    _DAY,
    _Arrays,
    _by_customer_time,
    _group_starts,
    _sigmoid,
    _unsort,
)

_DECAY_S = 30 * _DAY  # time constant of past trouble
_PRIOR_DECAY_S = 90 * _DAY  # time constant of a previous Detractor answer

_DETRACTOR_INTERCEPT = -2.1
_TROUBLE_SCALE = 0.45  # weight of the trouble score in the log-odds
_PATIENCE_LOGIT = 0.55
_SEGMENT_LOGIT = (0.15, 0.0, -0.15)
_CHANNEL_LOGIT = (0.0, 0.15, -0.1, 0.35)
_TEAM_LOGIT = (0.0, 0.1, 0.0, -0.1, -0.1, 0.2)


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
        counts: np.ndarray = hi - lo
        return counts
