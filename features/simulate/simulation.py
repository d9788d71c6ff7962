"""simulate() and write_simulation(): the parts drawn in order, each from its own stream.

Why: the pipeline, the models and the quarantine need data whose generating story is known,
so a model's quality can be judged against the best achievable (``truth.p_detractor``).
The story is told part by part: customers (``population``), tickets (``tickets``), surveys
(``surveys``), the true Detractor risk (``risk``) and the dirty rows (``dirt``).

Sizes (measured on the 2-core dev machine, shared; about 10 interactions and 1 answered
survey per customer and year; Detractor share ~25%, truth AUC ~0.8):

    customers  days   interactions   surveys   time
        2,000   180         ~9,900      ~990   ~0.05 s
        5,000   180        ~25,000    ~2,400   ~0.1 s
    1,000,000   365    ~10,100,000  ~980,000   ~45 s, ~3.3 GiB peak RSS
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from features.dataset import write_tables
from features.simulate._common import _DAY
from features.simulate.comments import CAUSES
from features.simulate.config import SimulationConfig, _start_ns
from features.simulate.dirt import _DIRT_KINDS, _inject_dirt
from features.simulate.population import _draw_churn, _draw_customers
from features.simulate.surveys import _draw_surveys
from features.simulate.tables import _customers_frame, _ids, _interactions_frame, _surveys_frame
from features.simulate.tickets import _draw_agents, _draw_interactions


@dataclass(frozen=True)
class Simulation:
    """The canonical tables plus the true Detractor probability of every survey answer."""

    interactions: pd.DataFrame
    surveys: pd.DataFrame
    customers: pd.DataFrame
    truth: pd.DataFrame  # response_id, p_detractor, cause (what the answer's comment tells of)


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
        {
            "response_id": surveys["response_id"],
            "p_detractor": surv["p"].astype(np.float64),
            "cause": pd.Series(np.asarray(CAUSES)[surv["cause"]], dtype="str"),
        }
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
