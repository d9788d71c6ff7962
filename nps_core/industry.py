"""Industry NPS ranges (DOMAIN.md, "Benchmarks by industry"), to put a score in context."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class IndustryRange:
    industry: str
    low: float
    high: float
    top_quartile: float | None = None


INDUSTRIES: dict[str, IndustryRange] = {
    "saas": IndustryRange("Software / SaaS", 30, 50, 60),
    "ecommerce": IndustryRange("E-commerce / retail", 30, 45),
    "financial": IndustryRange("Financial services", 30, 45, 45),
    "insurance": IndustryRange("Insurance", 25, 40, 35),
    "telecom": IndustryRange("Telecom / cable", 0, 20, 30),
    "contact-centre": IndustryRange("BPO / contact centres", 25, 50, 50),
    "healthcare": IndustryRange("Healthcare", 15, 40, 40),
}


def compare(nps: float, industry: str) -> str:
    """One plain sentence placing a score against its industry's typical range."""
    ref = INDUSTRIES[industry]
    if nps > ref.high:
        where = "above the typical range"
    elif nps < ref.low:
        where = "below the typical range"
    else:
        where = "within the typical range"
    warning = " Below 0 is a warning sign." if nps < 0 else ""
    top = f"; top quartile from {ref.top_quartile:+.0f}" if ref.top_quartile is not None else ""
    return f"NPS {nps:+.0f} is {where} for {ref.industry} ({ref.low:+.0f} to {ref.high:+.0f}{top}).{warning}"
