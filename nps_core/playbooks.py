"""Risk bands and what a support team does about each (DOMAIN.md, "Closing the loop")."""

from __future__ import annotations

from enum import StrEnum


class Band(StrEnum):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


ACTIONS: dict[Band, str] = {
    Band.HIGH: (
        "Senior agent or manager reaches out within 24 hours on the channel the customer used: "
        "acknowledge the issue, ask about the experience, offer a path to resolution, track it to closure."
    ),
    Band.MEDIUM: (
        "Proactive check-in by the owning team within 3 days: confirm the open issue is resolved "
        "and nothing else is pending."
    ),
    Band.LOW: "No outreach needed; keep the normal survey cadence.",
}

# The control group: measured, never called (the daily list, its files and the API say so).
CONTROL_ACTION = "control: no outreach"

# After a real answer (the close-the-loop part of the daily list).
DETRACTOR_FOLLOW_UP = (
    "Close the loop within 24 hours: a senior agent (not a bot, not the standard queue) calls or "
    "writes on the customer's channel, acknowledges the issue and tracks it to resolution."
)
PASSIVE_FOLLOW_UP = 'Ask what would make it a 9 or 10: "What\'s missing?"'
PROMOTER_FOLLOW_UP = "Thank them and ask, with consent, for a review, testimonial or referral."


def band_for(probability: float, high: float, medium: float) -> Band:
    if probability >= high:
        return Band.HIGH
    if probability >= medium:
        return Band.MEDIUM
    return Band.LOW
