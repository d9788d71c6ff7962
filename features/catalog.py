"""Every feature, described once: what it means, how to say it to an agent, its direction.

The sentence templates turn a SHAP driver into words ("3 escalations in the last 30 days");
``monotone`` (+1 more means riskier, -1 less risky, 0 no claim) feeds LightGBM's monotone
constraints where the sign is obvious to a support leader.

Over 400 lines because it is a table: one entry per feature family, kept together so
the descriptions, sentence templates and monotone signs are reviewed side by side.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any, Literal

from nps_core.scale import NPS_SCALE, ScoreScale

Kind = Literal["numeric", "categorical"]


@dataclass(frozen=True)
class FeatureSpec:
    """What the pipeline computes; stored with a model so serving computes the same."""

    windows_days: tuple[int, ...] = (7, 30, 90)
    channels: tuple[str, ...] = ("chat", "email", "phone", "social")
    extra_categoricals: tuple[
        str, ...
    ] = ()  # passthrough interaction columns, last contact's value
    repeat_within_days: float = 7.0
    agent_prior_weight: float = 10.0  # surveys of pseudo-evidence toward the overall rate
    scale: ScoreScale = field(default_factory=lambda: NPS_SCALE)

    @property
    def long_window(self) -> int:
        return max(self.windows_days)

    def as_dict(self) -> dict[str, object]:
        return {
            "windows_days": list(self.windows_days),
            "channels": list(self.channels),
            "extra_categoricals": list(self.extra_categoricals),
            "repeat_within_days": self.repeat_within_days,
            "agent_prior_weight": self.agent_prior_weight,
            "scale": self.scale.to_dict(),
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> FeatureSpec:
        scale = raw.get("scale") or {}
        assert isinstance(scale, dict)
        return cls(
            windows_days=tuple(int(w) for w in raw.get("windows_days", (7, 30, 90))),
            channels=tuple(str(c) for c in raw.get("channels", ())),
            extra_categoricals=tuple(str(c) for c in raw.get("extra_categoricals", ())),
            repeat_within_days=float(raw.get("repeat_within_days", 7.0)),
            agent_prior_weight=float(raw.get("agent_prior_weight", 10.0)),
            scale=ScoreScale(**{k: int(v) for k, v in scale.items()}) if scale else NPS_SCALE,
        )


@dataclass(frozen=True)
class FeatureInfo:
    name: str
    description: str
    template: str  # str.format with {value} (and {unit}); see render()
    kind: Kind = "numeric"
    monotone: int = 0
    percent: bool = False  # a share in [0, 1], said as a percentage

    def render(self, value: object) -> str:
        """The driver as a sentence; missing values say so plainly."""
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return f"{self.description}: not known yet"
        if self.kind == "numeric":
            number = float(value)  # type: ignore[arg-type]
            if self.percent:
                return self.template.format(value=f"{100 * number:.0f}%")
            shown = (
                f"{number:.0f}"
                if abs(number - round(number)) < 1e-9 or abs(number) >= 10
                else f"{number:.1f}"
            )
            return (
                _singular(self.template.format(value=shown))
                if shown == "1"
                else self.template.format(value=shown)
            )
        return self.template.format(value=value)


def _singular(text: str) -> str:
    """'1 tickets still open' -> '1 ticket still open' (our templates put the noun after the number)."""
    return re.sub(r"\b1 (\w+?)s\b", r"1 \1", text)


def _w(days: int) -> str:
    return "in the last 7 days" if days == 7 else f"in the last {days} days"


def feature_catalog(spec: FeatureSpec) -> dict[str, FeatureInfo]:
    """All features of a spec, in output column order."""
    items: list[FeatureInfo] = []
    add = items.append
    windows = spec.windows_days
    long = spec.long_window

    # Contact volume and recency (known when the contact is opened).
    for w in windows:
        add(
            FeatureInfo(
                f"contacts_{w}d",
                f"support contacts opened {_w(w)}",
                f"{{value}} support contacts {_w(w)}",
                monotone=1,
            )
        )
        add(
            FeatureInfo(
                f"repeat_contacts_{w}d",
                f"contacts {_w(w)} that came within {spec.repeat_within_days:g} days of the previous one",
                f"{{value}} repeat contacts {_w(w)}",
                monotone=1,
            )
        )
    add(
        FeatureInfo(
            "contacts_total", "support contacts in all history", "{value} support contacts in total"
        )
    )
    add(
        FeatureInfo(
            "days_since_last_contact",
            "days since the last support contact",
            "last contact {value} days ago",
        )
    )
    add(
        FeatureInfo(
            "days_since_first_contact",
            "days since the first support contact",
            "first contact {value} days ago",
        )
    )
    for ch in spec.channels:
        add(
            FeatureInfo(
                f"share_{ch}_{long}d",
                f"share of contacts by {ch} {_w(long)}",
                f"{{value}} of contacts by {ch} {_w(long)}",
                percent=True,
            )
        )
    add(
        FeatureInfo(
            "last_channel",
            "channel of the latest contact",
            "latest contact by {value}",
            kind="categorical",
        )
    )
    add(
        FeatureInfo(
            "last_category",
            "topic of the latest contact",
            "latest contact about {value}",
            kind="categorical",
        )
    )
    add(
        FeatureInfo(
            "last_team",
            "team of the latest contact",
            "latest contact handled by team {value}",
            kind="categorical",
        )
    )
    for extra in spec.extra_categoricals:
        label = extra.replace("_", " ")
        add(
            FeatureInfo(
                f"last_{extra}",
                f"{label} of the latest contact",
                f"latest contact: {label} {{value}}",
                kind="categorical",
            )
        )

    # Open work at t.
    add(FeatureInfo("open_tickets", "tickets still open", "{value} tickets still open", monotone=1))
    add(
        FeatureInfo(
            "open_ticket_mean_age_h",
            "average age of the open tickets, hours",
            "open tickets waiting {value} hours on average",
            monotone=1,
        )
    )
    add(
        FeatureInfo(
            "awaiting_first_response",
            "tickets with no first answer yet",
            "{value} tickets with no answer yet",
            monotone=1,
        )
    )
    add(
        FeatureInfo(
            "last_contact_response_wait_h",
            "hours the latest contact waited for a first answer (so far, if none yet)",
            "waited {value} hours for a first answer on the latest contact",
            monotone=1,
        )
    )

    # First response speed (known when the answer is sent).
    for w in windows:
        add(
            FeatureInfo(
                f"mean_first_response_h_{w}d",
                f"average hours to a first answer {_w(w)}",
                f"first answers took {{value}} hours on average {_w(w)}",
                monotone=1,
            )
        )
    for w in windows[1:]:
        add(
            FeatureInfo(
                f"max_first_response_h_{w}d",
                f"longest wait for a first answer {_w(w)}, hours",
                f"waited up to {{value}} hours for a first answer {_w(w)}",
                monotone=1,
            )
        )

    # Outcomes (known when the ticket is resolved).
    for w in windows:
        add(
            FeatureInfo(
                f"resolved_{w}d", f"tickets resolved {_w(w)}", f"{{value}} tickets resolved {_w(w)}"
            )
        )
        add(
            FeatureInfo(
                f"fcr_rate_{w}d",
                f"share of tickets resolved at the first contact {_w(w)}",
                f"{{value}} of tickets solved at first contact {_w(w)}",
                monotone=-1,
                percent=True,
            )
        )
        add(
            FeatureInfo(
                f"failed_fcr_{w}d",
                f"tickets not resolved at the first contact {_w(w)}",
                f"{{value}} tickets not solved at first contact {_w(w)}",
                monotone=1,
            )
        )
        add(
            FeatureInfo(
                f"escalations_{w}d",
                f"escalated tickets {_w(w)}",
                f"{{value}} escalations {_w(w)}",
                monotone=1,
            )
        )
        add(
            FeatureInfo(
                f"transfers_{w}d",
                f"transfers between agents or teams {_w(w)}",
                f"{{value}} transfers {_w(w)}",
                monotone=1,
            )
        )
        add(
            FeatureInfo(
                f"reopened_{w}d",
                f"tickets reopened {_w(w)}",
                f"{{value}} reopened tickets {_w(w)}",
                monotone=1,
            )
        )
        add(
            FeatureInfo(
                f"extra_contacts_{w}d",
                f"extra contacts the customer spent on the same issues {_w(w)}",
                f"{{value}} extra contacts for the same issues {_w(w)}",
                monotone=1,
            )
        )
        add(
            FeatureInfo(
                f"mean_resolution_h_{w}d",
                f"average hours to resolve {_w(w)}",
                f"tickets took {{value}} hours to resolve on average {_w(w)}",
                monotone=1,
            )
        )
        add(
            FeatureInfo(
                f"mean_sentiment_{w}d",
                f"average customer sentiment {_w(w)} (-1 to 1)",
                f"average sentiment {{value}} {_w(w)}",
                monotone=-1,
            )
        )
    for w in windows[1:]:
        add(
            FeatureInfo(
                f"max_resolution_h_{w}d",
                f"longest resolution {_w(w)}, hours",
                f"a ticket took {{value}} hours to resolve {_w(w)}",
                monotone=1,
            )
        )
        add(
            FeatureInfo(
                f"mean_handle_time_min_{w}d",
                f"average handling time {_w(w)}, minutes",
                f"{{value}} minutes average handling time {_w(w)}",
            )
        )
        add(
            FeatureInfo(
                f"min_sentiment_{w}d",
                f"lowest customer sentiment {_w(w)}",
                f"sentiment as low as {{value}} {_w(w)}",
                monotone=-1,
            )
        )
    add(
        FeatureInfo(
            "escalations_total",
            "escalated tickets in all history",
            "{value} escalations in total",
            monotone=1,
        )
    )
    # The latest resolved ticket: usually the one a survey rates, and the freshest memory.
    add(
        FeatureInfo(
            "last_resolved_failed_fcr",
            "the latest resolved ticket was not fixed at the first contact (1 = yes)",
            "the latest ticket was not solved at first contact (flag {value})",
            monotone=1,
        )
    )
    add(
        FeatureInfo(
            "last_resolved_escalated",
            "the latest resolved ticket was escalated (1 = yes)",
            "the latest ticket was escalated (flag {value})",
            monotone=1,
        )
    )
    add(
        FeatureInfo(
            "last_resolved_transfers",
            "transfers on the latest resolved ticket",
            "{value} transfers on the latest ticket",
            monotone=1,
        )
    )
    add(
        FeatureInfo(
            "last_resolved_extra_contacts",
            "extra contacts the latest resolved ticket cost the customer",
            "{value} extra contacts on the latest ticket",
            monotone=1,
        )
    )
    add(
        FeatureInfo(
            "last_resolved_reopened",
            "the latest resolved ticket had been reopened (1 = yes)",
            "the latest ticket was reopened (flag {value})",
            monotone=1,
        )
    )
    add(
        FeatureInfo(
            "last_resolved_resolution_h",
            "hours the latest resolved ticket took to resolve",
            "the latest ticket took {value} hours to resolve",
            monotone=1,
        )
    )
    add(
        FeatureInfo(
            "last_resolved_first_response_h",
            "hours the latest resolved ticket waited for a first answer",
            "the latest ticket waited {value} hours for a first answer",
            monotone=1,
        )
    )
    add(
        FeatureInfo(
            "last_resolved_channel",
            "channel of the latest resolved ticket",
            "latest resolved ticket came by {value}",
            kind="categorical",
        )
    )
    add(
        FeatureInfo(
            "last_resolved_team",
            "team of the latest resolved ticket",
            "latest resolved ticket handled by team {value}",
            kind="categorical",
        )
    )
    add(
        FeatureInfo(
            "last_sentiment",
            "sentiment of the latest resolved ticket",
            "sentiment {value} on the latest resolved ticket",
            monotone=-1,
        )
    )
    add(
        FeatureInfo(
            "sentiment_trend",
            f"average sentiment in the last {windows[1] if len(windows) > 1 else windows[0]} days minus the {long} days before",
            "sentiment changed by {value} recently",
            monotone=-1,
        )
    )

    # Earlier answers (known when answered).
    add(
        FeatureInfo(
            "prior_surveys", "survey answers given before", "{value} earlier survey answers"
        )
    )
    add(
        FeatureInfo(
            "prior_detractor_answers",
            "earlier Detractor answers",
            "{value} earlier Detractor answers",
            monotone=1,
        )
    )
    add(
        FeatureInfo(
            "last_score",
            f"latest survey score ({spec.scale.low}-{spec.scale.high})",
            f"last score {{value}} out of {spec.scale.high}",
            monotone=-1,
        )
    )
    add(
        FeatureInfo(
            "days_since_last_survey",
            "days since the latest survey answer",
            "last answered a survey {value} days ago",
        )
    )

    # Who handled them: agent and team history (surveys answered before t).
    add(
        FeatureInfo(
            "last_agent_detractor_rate",
            "Detractor share of the latest agent's earlier surveys (smoothed)",
            "the latest agent's customers were Detractors {value} of the time",
            monotone=1,
            percent=True,
        )
    )
    add(
        FeatureInfo(
            "last_agent_prior_surveys",
            "earlier surveys of the latest agent",
            "the latest agent had {value} earlier surveys",
        )
    )
    add(
        FeatureInfo(
            "last_team_detractor_rate",
            "Detractor share of the latest team's earlier surveys (smoothed)",
            "the latest team's customers were Detractors {value} of the time",
            monotone=1,
            percent=True,
        )
    )

    # The customer.
    add(FeatureInfo("segment", "customer segment", "{value} customer", kind="categorical"))
    add(FeatureInfo("plan", "customer plan", "on the {value} plan", kind="categorical"))
    add(FeatureInfo("region", "customer region", "in region {value}", kind="categorical"))
    add(
        FeatureInfo("tenure_days", "days since the customer signed up", "customer for {value} days")
    )
    return {info.name: info for info in items}


def categorical_features(spec: FeatureSpec) -> list[str]:
    return [n for n, info in feature_catalog(spec).items() if info.kind == "categorical"]


def numeric_features(spec: FeatureSpec) -> list[str]:
    return [n for n, info in feature_catalog(spec).items() if info.kind == "numeric"]


# Ordered: the first keyword found in a feature's name names its family.
_FAMILIES = (
    "sentiment",
    "first_response",
    "response_wait",
    "awaiting",
    "resolution",
    "escalat",
    "transfer",
    "fcr",
    "repeat",
    "reopen",
    "extra_contacts",
    "open_ticket",
    "survey",
    "detractor_answers",
    "score",
    "agent",
    "team",
    "channel",
    "category",
    "handle_time",
    "tenure",
    "contact",
)


def feature_family(name: str) -> str:
    """Features that say the same thing in other windows or statistics share a family, so
    an agent is told three different reasons, not one reason three ways."""
    for keyword in _FAMILIES:
        if keyword in name:
            return keyword
    return name
