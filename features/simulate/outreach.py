"""The simulated world with outreach in it: later survey answers drawn day by day, after calls.

``simulate()`` draws every answer at once. A product in the loop cannot: whom it calls on a
day depends on the answers before that day, and a call changes the answers after it. So
``LoopWorld`` keeps what outreach cannot change (customers, agents, every ticket, every
survey sent and when it would be answered, each answer's log-odds before any call) from the
same seeded streams as ``simulate()``, takes the history before ``lists_from`` from
``simulate()`` itself, and draws the answers of each later day on request, after the calls
of that day are known (``reach``, then ``answer_day``).

A customer reached at time ``r`` has every answer after ``r`` drawn with the Detractor
log-odds shifted by the effect given at the call (the latest call wins; effects do not add
up) and the answer log-odds shifted by the answer effect. Tickets and churn do not react to calls (the
customers table, churn included, is ``simulate()``'s).
Each answer also gets its probability without the effect (``p_untreated``), from the same
history, which is what the true effect is measured on. The later answers come from the
loop's own stream (the sixth child of the seed), so with zero effects they follow the same
law as ``simulate()``'s but are other draws.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from features.simulate._common import _DAY, _NS_PER_S, _Arrays, _sigmoid
from features.simulate.comments import draw_comments
from features.simulate.config import SimulationConfig, _start_ns
from features.simulate.population import _draw_customers
from features.simulate.risk import _PRIOR_DECAY_S, _risk_terms
from features.simulate.simulation import Simulation, simulate
from features.simulate.surveys import _draw_invitations, _draw_scores
from features.simulate.tables import _ids, _surveys_frame
from features.simulate.tickets import _draw_agents, _draw_interactions
from nps_core.errors import ConfigError
from nps_core.scale import NPS_SCALE

_PRIOR_WEIGHT = 0.9  # log-odds of a previous Detractor answer (risk._draw_detractors)
_TRUTH = ("p_detractor", "p_untreated", "reached")
_STREAMS = 6  # simulate() uses the first five children of the seed; the loop the sixth


@dataclass
class LoopWorld:
    """One simulated world whose answers from ``lists_from`` on are drawn day by day."""

    config: SimulationConfig
    history: Simulation  # simulate(config); its answers before lists_from are the history
    history_answers: pd.DataFrame  # those answers, with p_detractor
    lists_from_s: int  # seconds after the start
    cust: _Arrays
    tix: _Arrays
    sent: _Arrays  # invitations answered (if at all) from lists_from on, by answer time
    customer_ids: pd.Index
    rng: np.random.Generator
    last_answer_s: np.ndarray  # per customer; -1: none yet
    last_detractor: np.ndarray
    reached_s: np.ndarray  # per customer, the latest call that reached them; -1: none
    detractor_effect: np.ndarray  # log-odds, from the latest call
    answer_effect: np.ndarray
    answers: list[pd.DataFrame] = field(default_factory=list)  # per day: rows + truth

    @classmethod
    def start(cls, config: SimulationConfig, lists_from: pd.Timestamp) -> LoopWorld:
        """The world of ``config`` with its history up to ``lists_from`` (a UTC midnight)."""
        start_ns = _start_ns(config.start)
        end = config.days * _DAY
        lists_from_s = (int(lists_from.as_unit("ns").value) - start_ns) // _NS_PER_S
        if not 0 < lists_from_s < end:
            raise ConfigError(
                f"lists_from {lists_from.date()} must fall after the first simulated day "
                f"({config.start}) and before the last day ends"
            )
        history = simulate(config)
        streams = np.random.SeedSequence(config.seed).spawn(_STREAMS)
        rng_cust, rng_tix, rng_surv = (np.random.default_rng(s) for s in streams[:3])
        cust = _draw_customers(config, end, rng_cust)
        agents = _draw_agents(rng_tix)
        tix = _draw_interactions(cust, agents, end, rng_tix)
        sent = _draw_invitations(tix, end, rng_surv)
        later = (sent["responded"] >= lists_from_s) & (sent["responded"] < end)
        order = np.flatnonzero(later)[np.argsort(sent["responded"][later], kind="stable")]
        sent = {key: values[order] for key, values in sent.items()}
        sent["c"] = tix["c"][sent["trigger"]]
        sent["trouble"], sent["base"] = _risk_terms(
            cust, agents, tix, sent["c"], sent["trigger"], sent["responded"]
        )
        rng = np.random.default_rng(streams[5])
        sent["u_detractor"] = rng.random(order.size)  # one per invitation: common to any effect

        customer_ids = pd.Index(history.customers["customer_id"].astype(str))
        n = customer_ids.size
        before = history.surveys["responded_at"] < lists_from
        world = cls(
            config=config,
            history=history,
            history_answers=history.surveys[before].merge(
                history.truth[["response_id", "p_detractor"]], on="response_id", how="left"
            ),
            lists_from_s=lists_from_s,
            cust=cust,
            tix=tix,
            sent=sent,
            customer_ids=customer_ids,
            rng=rng,
            last_answer_s=np.full(n, -1, dtype=np.int64),
            last_detractor=np.zeros(n, dtype=bool),
            reached_s=np.full(n, -1, dtype=np.int64),
            detractor_effect=np.zeros(n),
            answer_effect=np.zeros(n),
        )
        world._remember(world._history_answers())
        return world

    # --- what the loop does --------------------------------------------------------------

    def codes(self, customer_ids: pd.Series) -> np.ndarray:
        codes = self.customer_ids.get_indexer(pd.Index(customer_ids.astype(str)))
        if (codes < 0).any():
            raise ConfigError("a customer the loop called is not in the simulated population")
        return codes

    def reach(
        self,
        customer_ids: pd.Series,
        at: pd.Timestamp,
        detractor_effect: np.ndarray,
        answer_effect: float,
    ) -> None:
        """Customers reached at ``at``: their later answers carry these effects."""
        codes = self.codes(customer_ids)
        self.reached_s[codes] = self._seconds(at)
        self.detractor_effect[codes] = detractor_effect
        self.answer_effect[codes] = answer_effect

    def answer_day(self, day: pd.Timestamp) -> pd.DataFrame:
        """Draw the answers given during ``day`` (UTC midnight), with the calls made so far;
        returns them as survey rows plus ``p_detractor``, ``p_untreated``, ``reached``."""
        lo = self._seconds(day)
        hi = lo + _DAY
        s = self.sent
        idx = np.arange(*np.searchsorted(s["responded"], [lo, hi], side="left"))
        c, at = s["c"][idx], s["responded"][idx]
        reached = (self.reached_s[c] >= 0) & (self.reached_s[c] < at)
        logit = s["answer_logit"][idx] + np.where(reached, self.answer_effect[c], 0.0)
        answered = s["u_answer"][idx] < _sigmoid(logit)
        idx, c, at, reached = idx[answered], c[answered], at[answered], reached[answered]

        had = self.last_answer_s[c] >= 0
        since = np.where(had, at - self.last_answer_s[c], 0)
        memory = np.where(
            had, _PRIOR_WEIGHT * self.last_detractor[c] * np.exp(-since / _PRIOR_DECAY_S), 0.0
        )
        untreated = s["base"][idx] + memory
        p0 = _sigmoid(untreated)
        p = _sigmoid(untreated + np.where(reached, self.detractor_effect[c], 0.0))
        detractor = s["u_detractor"][idx] < p
        trigger = s["trigger"][idx]
        score, cause = _draw_scores(
            self.rng, self.cust, self.tix, c, trigger, s["trouble"][idx], p, detractor
        )
        first = len(self.history_answers) + 1 + sum(len(frame) for frame in self.answers)
        drawn = {
            "number": np.arange(first, first + c.size),
            "c": c,
            "trigger": trigger,
            "responded": at,
            "p": p,
            "p_untreated": p0,
            "reached": reached,
            "score": score,
            "comment": draw_comments(self.rng, score, cause),
        }
        self._remember(drawn)
        frame = self._frame(drawn)
        self.answers.append(frame)
        return frame

    # --- the tables ----------------------------------------------------------------------

    def surveys(self) -> pd.DataFrame:
        """History answers, then every later answer drawn so far (ids continue)."""
        later = [frame.drop(columns=list(_TRUTH)) for frame in self.answers]
        return pd.concat(
            [self.history_answers.drop(columns="p_detractor"), *later], ignore_index=True
        )

    def truth(self) -> pd.DataFrame:
        """response_id, customer_id, responded_at and the truth columns: p_detractor (as
        drawn), p_untreated (without any call's effect), reached (before this answer)."""
        hist = self.history_answers.assign(
            p_untreated=self.history_answers["p_detractor"], reached=False
        )
        keep = ["response_id", "customer_id", "responded_at", *_TRUTH]
        return pd.concat([hist[keep], *[frame[keep] for frame in self.answers]], ignore_index=True)

    # --- helpers -------------------------------------------------------------------------

    def _seconds(self, at: pd.Timestamp) -> int:
        return (int(at.as_unit("ns").value) - _start_ns(self.config.start)) // _NS_PER_S

    def _history_answers(self) -> _Arrays:
        hist = self.history_answers
        responded = hist["responded_at"].to_numpy("datetime64[ns]").view(np.int64)
        return {
            "c": self.customer_ids.get_indexer(pd.Index(hist["customer_id"].astype(str))),
            "responded": (responded - _start_ns(self.config.start)) // _NS_PER_S,
            "score": hist["score"].to_numpy(dtype=np.int64),
        }

    def _remember(self, answers: _Arrays) -> None:
        """Each customer's latest answer so far (the prior-Detractor memory)."""
        order = np.argsort(answers["responded"], kind="stable")
        c = answers["c"][order]
        self.last_answer_s[c] = answers["responded"][order]  # the last write per customer wins
        self.last_detractor[c] = answers["score"][order] <= NPS_SCALE.detractor_max

    def _frame(self, answers: _Arrays) -> pd.DataFrame:
        first = int(answers["number"][0]) if answers["number"].size else 1
        ids = _ids("C", np.arange(1, self.config.customers + 1))
        frame = _surveys_frame(answers, self.tix, ids, _start_ns(self.config.start), first)
        return frame.assign(
            p_detractor=answers["p"],
            p_untreated=answers["p_untreated"],
            reached=answers["reached"],
        )
