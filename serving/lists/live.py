"""One customer's risk as of now, from the database source: the daily list's answer for
one customer, without waiting for tomorrow's list.

The features are the batch pipeline's own (``features.database.live_features``: the
customer's rows and the agent/team answer counts, both read by indexed queries), so a live
answer equals a fresh snapshot's for the same customer and time. The list's control rule
holds: a customer in this period's control group is said to be so, with the action
"control: no outreach", as on the list.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pandas as pd

from features.database import Source
from features.live import live_features
from nps_core.playbooks import CONTROL_ACTION
from serving.lists.policy import ListPolicy, in_control, period_label
from serving.predictor import ServingModel


@dataclass(frozen=True)
class LiveRisk:
    customer_id: str
    as_of: pd.Timestamp
    probability: float
    band: str
    group: str  # "treatment" or "control"
    action: str  # CONTROL_ACTION for the control group: it gets no outreach
    reasons: list[dict[str, Any]]
    features: dict[str, float | str | None]
    model_version: str


def live_risk(
    model: ServingModel,
    source: Source,
    customer_id: str,
    as_of: pd.Timestamp,
    policy: ListPolicy,
) -> LiveRisk | None:
    """The customer's risk, reasons and action as of ``as_of``; None if the database has
    no row about them."""
    if model.spec is None:
        raise ValueError("the model was trained on a feature table: it has no feature spec")
    frame = live_features(source, customer_id, as_of, model.spec)
    if frame is None:
        return None
    features = {str(name): _plain(value) for name, value in frame.iloc[0].items()}
    # the hot path's own row builder (the encoder's DataFrame transform took ~4 ms a row)
    matrix = model.matrix_from_features([features], ["live"])
    scored = model.answer([customer_id], matrix)[0]
    label = period_label(as_of, policy.period)
    control = bool(in_control(pd.Series([customer_id]), label, policy.control_share)[0])
    return LiveRisk(
        customer_id=customer_id,
        as_of=as_of,
        probability=scored.probability,
        band=scored.band,
        group="control" if control else "treatment",
        action=CONTROL_ACTION if control else scored.action,
        reasons=scored.reasons,
        features=features,
        model_version=model.version,
    )


def _plain(value: Any) -> float | str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return None
    return value if isinstance(value, str) else float(value)
