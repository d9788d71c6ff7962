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
