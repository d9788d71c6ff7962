"""Typed answers of the manager's routes: NPS by group and period, comment themes, drivers.

The fields are the ones ``serving.analytics`` computes (its ``*_dict`` functions build them),
so the command line's ``--json`` and the API answer the same figures.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

PeriodName = Literal["week", "month", "quarter"]
GroupName = Literal["channel", "team", "segment", "region", "plan"]


class NpsFigureOut(BaseModel):
    n: int = Field(description="answers counted")
    promoters: int
    passives: int
    detractors: int
    nps: float | None = Field(description="%Promoters - %Detractors, -100..100; null when n = 0")
    ci_low: float | None = Field(description="95% interval (normal approximation), clipped")
    ci_high: float | None
    small_sample: bool = Field(description="fewer than 30 answers: the figure is unreliable")


class NpsChangeOut(BaseModel):
    """The latest period against the one before it: a two-sample z-test."""

    before: str
    after: str
    nps_before: float | None
    nps_after: float | None
    change: float | None = Field(description="after - before, NPS points")
    se: float | None
    ci_low: float | None
    ci_high: float | None
    z: float | None
    p_value: float | None
    significant: bool = Field(description="p < 0.05")


class NpsPeriodOut(NpsFigureOut):
    period: str = Field(description="pandas period label: 2026-03, 2026Q1, 2026-03-02/2026-03-08")


class NpsGroupOut(NpsFigureOut):
    group: str = Field(description="the group's value; (unknown) where the answer has none")
    change: NpsChangeOut | None = Field(
        description="the group's latest period against the one before (null: not answered in both)"
    )


class NpsGroupPeriodOut(NpsFigureOut):
    group: str
    period: str


class NpsBreakdownOut(BaseModel):
    groups: list[NpsGroupOut] = Field(description="largest first")
    by_period: list[NpsGroupPeriodOut] = Field(description="one entry per group and period")


class IndustryOut(BaseModel):
    industry: str
    name: str
    low: float
    high: float
    top_quartile: float | None
    verdict: str | None = Field(description="where the overall NPS falls, in one sentence")


class NpsOut(BaseModel):
    period: PeriodName
    from_: str | None = Field(alias="from", description="first answer day counted (UTC)")
    to: str | None = Field(description="last answer day counted (UTC)")
    min_reliable_n: int
    overall: NpsFigureOut
    periods: list[NpsPeriodOut]
    change: NpsChangeOut | None = Field(description="null with fewer than two periods")
    by: dict[str, NpsBreakdownOut]
    industry: IndustryOut | None = Field(description="null unless NPS_RISK_INDUSTRY is set")

    model_config = {"populate_by_name": True}


class TaxonomyOut(BaseModel):
    name: str
    version: int


class ThemeTrendOut(NpsFigureOut):
    period: str
    volume: int = Field(description="comments of the period mentioning the theme")
    comments: int = Field(description="comments of the period")
    share_of_comments: float | None


class ThemeOut(BaseModel):
    key: str = Field(description="the taxonomy's key, or proposed_N for a proposed topic")
    label: str
    source: Literal["taxonomy", "proposed"]
    top_terms: list[str]
    volume: int = Field(description="comments mentioning the theme")
    share_of_comments: float | None
    nps: NpsFigureOut = Field(description="NPS of the answers mentioning the theme")
    impact: float | None = Field(
        description="NPS(all answers) - NPS(answers not mentioning the theme), points"
    )
    impact_ci_low: float | None = Field(description="95% bootstrap interval")
    impact_ci_high: float | None
    detractor_share: float | None = Field(
        description="share of Detractors' comments that mention the theme"
    )
    promoter_share: float | None = Field(description="the same among Promoters' comments")
    trend: list[ThemeTrendOut]
    examples: list[str] = Field(description="up to three comments")
    ranked: bool = Field(description="false under min_count comments: flagged, not ranked")
    rank: int | None = Field(description="1 = the most negative impact")
    flag: str | None


class AssignmentOut(BaseModel):
    response_id: str
    themes: list[str]


class ThemesOut(BaseModel):
    taxonomy: TaxonomyOut
    period: PeriodName
    answers: int
    comments: int
    overall: NpsFigureOut
    min_count: int
    bootstrap: int
    seed: int
    impact_formula: str
    themes: list[ThemeOut] = Field(description="ranked first (most negative impact first)")
    assignments: list[AssignmentOut] = Field(description="every comment's themes")


class RateOut(BaseModel):
    n: int
    detractors: int
    rate: float | None = Field(description="Detractor rate")
    ci_low: float | None = Field(description="95% Wilson interval")
    ci_high: float | None


class DifferenceOut(BaseModel):
    difference: float | None = Field(description="rate with - rate without (team - rest)")
    difference_ci_low: float | None = Field(description="95% Newcombe interval")
    difference_ci_high: float | None
    p_value: float | None


class AssociationOut(DifferenceOut):
    behaviour: Literal["first_contact_failed", "slow_first_response", "transferred"]
    label: str
    with_: RateOut = Field(alias="with", description="answers whose ticket had the behaviour")
    without: RateOut
    groups: list[str] = Field(description="what 'with' and 'without' are called")

    model_config = {"populate_by_name": True}


class ShapOut(BaseModel):
    family: str = Field(description="feature family (windows and statistics summed)")
    behaviour: bool = Field(description="something support does (coachable), not context")
    label: str
    mean_shap: float | None = Field(description="mean contribution to the log-odds of a Detractor")
    mean_abs_shap: float | None
    rest_mean_shap: float | None = Field(default=None, description="the other teams' mean")
    difference: float | None = Field(default=None, description="the team's mean - the rest's")


class BehaviourShareOut(DifferenceOut):
    behaviour: str
    team: RateOut = Field(description="here 'detractors' counts tickets with the behaviour")
    rest: RateOut


class TeamDriversOut(DifferenceOut):
    team: str
    team_rate: RateOut = Field(description="the team's Detractor rate")
    rest_rate: RateOut = Field(description="the other teams' together")
    behaviour_shares: list[BehaviourShareOut]
    focus: str | None = Field(description="the behaviour the team's tickets show clearly more")
    coaching: str


class ModelRefOut(BaseModel):
    name: str
    version: str


class DriversOut(BaseModel):
    team: str | None
    answers: int
    detractors: int
    detractor_rate: float | None
    detractor_rate_ci_low: float | None
    detractor_rate_ci_high: float | None
    model: ModelRefOut | None = Field(description="null: no model loaded, no SHAP view")
    slow_first_response_hours: dict[str, float] = Field(
        description="per channel, the first-response time above which a response is slow"
    )
    associations: list[AssociationOut]
    shap: list[ShapOut] | None
    teams: list[TeamDriversOut] = Field(description="every team against the rest")
    note: str
