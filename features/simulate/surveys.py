"""NPS surveys: who is asked, who answers and when, the score and the comment.

Surveys go out minutes to 2 h after a ticket is resolved, at most one per customer per 30
days (sends are 30 days + 21.5 h apart), about a quarter are answered, within 21.5 h of the
send: every answer is strictly after its ticket was resolved, within 24 h of it. Whether an
answer is a Detractor comes from the risk model; the score is drawn consistently with it:
Detractor 0-6 (lower when the risk is higher), else Promoter 9-10 with a share that falls
with trouble, or Passive 7-8.
"""

from __future__ import annotations

import numpy as np

from features.simulate._common import (
    _DAY,
    _HOUR,
    _MINUTE,
    _Arrays,
    _by_customer_time,
    _group_starts,
    _sigmoid,
)
from features.simulate.comments import DETRACTOR_CAUSES, answer_causes, draw_comments
from features.simulate.risk import _draw_detractors, _risk_terms
from features.simulate.tickets import CHANNELS
from nps_core.scale import NPS_SCALE

_FATIGUE_S = 30 * _DAY
_MAX_SEND_DELAY_S = 2 * _HOUR
_MAX_RESPONSE_DELAY_S = int(21.5 * _HOUR)


def _draw_surveys(
    cust: _Arrays, agents: _Arrays, tix: _Arrays, end: int, rng: np.random.Generator
) -> _Arrays:
    """Send after resolution with 30-day fatigue, keep the answers, draw risk and score."""
    sent = _draw_invitations(tix, end, rng)
    answered = (sent["u_answer"] < _sigmoid(sent["answer_logit"])) & (sent["responded"] < end)
    trigger, responded = sent["trigger"][answered], sent["responded"][answered]
    order = np.argsort(responded, kind="stable")  # response numbers follow answer time
    trigger, responded = trigger[order], responded[order]
    c = tix["c"][trigger]

    trouble, base = _risk_terms(cust, agents, tix, c, trigger, responded)
    p, detractor = _draw_detractors(rng, c, responded, base)
    score, cause = _draw_scores(rng, cust, tix, c, trigger, trouble, p, detractor)
    comment = draw_comments(rng, score, cause)
    return {
        "c": c,
        "trigger": trigger,
        "responded": responded,
        "p": p,
        "score": score,
        "comment": comment,
        "cause": cause,
    }


def _draw_invitations(tix: _Arrays, end: int, rng: np.random.Generator) -> _Arrays:
    """Every survey sent (30-day fatigue), when it would be answered, and the uniform that
    decides whether it is: answered when ``u_answer < sigmoid(answer_logit)`` and
    ``responded < end``. Kept apart so the loop can shift the answer rate of customers it
    reached, on the same draws."""
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
    return {
        "trigger": trigger,
        "responded": send + delay.astype(np.int64),
        "answer_logit": answer_logit,
        "u_answer": rng.random(trigger.size),
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
    """Score 0-10 consistent with the Detractor draw, and the cause its comment tells of
    (an index into comments.CAUSES): for a Detractor the worst thing that happened on the
    triggering ticket, one in five drawn at random instead (people mention other things)."""
    m = c.size
    drop = np.floor(rng.exponential(0.8 + 2.5 * p, m))
    low = NPS_SCALE.detractor_max - np.minimum(drop, NPS_SCALE.detractor_max - NPS_SCALE.low)
    promoter_p = _sigmoid(1.8 - 1.2 * trouble + 0.4 * cust["patience"][c])
    promoter = rng.random(m) < promoter_p
    top = rng.random(m) < 0.55  # 10 rather than 9, 8 rather than 7
    high = np.where(promoter, NPS_SCALE.promoter_min + top, NPS_SCALE.promoter_min - 2 + top)
    score = np.where(detractor, low, high).astype(np.int64)

    slow = tix["slow_frt"][t] | tix["long_resolution"][t]
    repeat = tix["contacts"][t] > 1
    reason = np.select(
        [
            ~tix["fixed"][t],
            (tix["transfers"][t] >= 2) | tix["escalated"][t],
            tix["sentiment"][t] <= -0.5,  # fixed, yet the exchange itself went badly
            slow,
            repeat,
        ],
        [
            DETRACTOR_CAUSES.index(k)
            for k in ("unresolved", "transferred", "rude", "slow", "repeat")
        ],
        default=DETRACTOR_CAUSES.index("general"),
    )
    shuffled = rng.random(m) < 0.2
    reason = np.where(shuffled, rng.integers(0, len(DETRACTOR_CAUSES), m), reason)
    return score, answer_causes(reason, score, slow, repeat)
