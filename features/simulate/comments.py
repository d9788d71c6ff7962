"""Survey comments drawn from the experience behind the score, with that cause kept as truth.

Why: theme finding is only testable when each comment's true cause is known. A Detractor's
comment tells of what went wrong on the ticket that triggered the survey (unresolved,
transferred or escalated, a rude exchange, slow answers, repeat contacts, or nothing in
particular), a Passive's of a milder version, a Promoter's praises. Texts are short and noisy
like real survey remarks: a core phrase (some in Hinglish, as customers of the real
e-commerce export write), an opener, a closer and a style (as written, lower case, or with a
typo), every combination enumerated once so a comment is an index into one tuple of texts.

The random draws are the ones the simulator always made for comments (one uniform to pick
the text, one to decide whether there is a comment), so every other column of a simulation
stays what it was.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from nps_core.scale import NPS_SCALE

# The causes a Detractor's comment can tell of come first: their number (6) is the range of
# the simulator's shuffle draw, kept so the draws after it do not move.
CAUSES = ("unresolved", "transferred", "rude", "slow", "repeat", "general", "praise")
DETRACTOR_CAUSES = CAUSES[:6]
TONES = ("detractor", "passive", "promoter")
COMMENT_SHARE = 0.65

_CORES: dict[tuple[str, str], tuple[str, ...]] = {
    ("unresolved", "detractor"): (
        "My issue is still not resolved",
        "They closed my ticket but the problem is still there",
        "Nobody actually solved my problem",
        "still waiting for a real fix, problem not fixed",
        "problem abhi tak solve nahi hua",
        "issue not solved even after the call",
    ),
    ("transferred", "detractor"): (
        "I was transferred from one agent to another",
        "Transferred several times and had to repeat myself every time",
        "Nobody owned my issue, passed around between departments",
        "baar baar transfer kiya, har baar same story",
        "had to ask for a manager before anyone helped, got transferred three times",
    ),
    ("rude", "detractor"): (
        "The agent was rude and not listening",
        "executive was very rude to me",
        "Agent behaviour was unprofessional and arrogant",
        "agent ne badtameezi ki, very bad attitude",
        "she hung up on me and was impolite",
    ),
    ("slow", "detractor"): (
        "Waited far too long for a reply",
        "It took days to get an answer",
        "Way too slow, I waited for hours",
        "bahut der se wait kar raha hu, no response",
        "response time is very late",
    ),
    ("repeat", "detractor"): (
        "I had to contact you again and again for the same thing",
        "Third time I am calling about this",
        "called multiple times for the same complaint",
        "phir se call karna pada, same issue again",
    ),
    ("general", "detractor"): (
        "Not happy",
        "Disappointing experience overall",
        "very bad",
        "worst experience ever",
        "not satisfied",
    ),
    ("slow", "passive"): (
        "Fine, but it took a while",
        "Decent help, could be faster",
        "ok but I had to wait long",
        "answer came late but ok",
    ),
    ("repeat", "passive"): (
        "Sorted in the end, though I had to call again",
        "ok after my second call",
        "needed two contacts for the same issue",
    ),
    ("general", "passive"): ("OK", "It was fine", "average", "ok ok"),
    ("praise", "promoter"): (
        "Great support, very helpful agent",
        "Solved on the first contact, thank you",
        "Excellent service and friendly staff",
        "bahut accha service, dhanyavad",
        "very polite executive, problem solved",
        "Good job, happy with the help",
        "awesome support thanks",
    ),
}
_OPENERS = ("", "Hi team, ", "Honestly ", "sir ", "")
_CLOSERS = {
    "detractor": ("", ".", "!!", ", very disappointed", " pls improve"),
    "passive": ("", ".", ", ok overall", " i guess"),
    "promoter": ("", "!", " :)", ", keep it up", "."),
}
_STYLES = ("as written", "lower case", "typo")


def _typo(text: str) -> str:
    """The third vowel dropped: the kind of slip quick typing makes."""
    seen = 0
    for i, ch in enumerate(text):
        if ch in "aeiouAEIOU":
            seen += 1
            if seen == 3:
                return text[:i] + text[i + 1 :]
    return text


def _styled(text: str, style: str) -> str:
    if style == "lower case":
        return text.lower()
    if style == "typo":
        return _typo(text)
    return text


def _variants(cause: str, tone: str) -> list[str]:
    """Every text of one cause and tone: core x opener x closer x style."""
    return [
        _styled(f"{opener}{core[0].lower() if opener else core[0]}{core[1:]}{closer}", style)
        for core in _CORES[(cause, tone)]
        for opener in _OPENERS
        for closer in _CLOSERS[tone]
        for style in _STYLES
    ]


@lru_cache(maxsize=1)
def _catalogue() -> tuple[tuple[str, ...], np.ndarray, np.ndarray]:
    """All texts, and per (cause, tone) the offset of its first text and how many it has
    (count 0: that cause never comes with that tone)."""
    texts: list[str] = []
    offsets = np.zeros((len(CAUSES), len(TONES)), dtype=np.int64)
    counts = np.zeros((len(CAUSES), len(TONES)), dtype=np.int64)
    for (cause, tone), _ in _CORES.items():
        variants = _variants(cause, tone)
        offsets[CAUSES.index(cause), TONES.index(tone)] = len(texts)
        counts[CAUSES.index(cause), TONES.index(tone)] = len(variants)
        texts += variants
    return tuple(texts), offsets, counts


def comment_texts() -> tuple[str, ...]:
    """Every comment the simulator can write; a comment is an index into this tuple."""
    return _catalogue()[0]


def tone_of(score: np.ndarray) -> np.ndarray:
    """0 Detractor, 1 Passive, 2 Promoter (the NPS scale's segments)."""
    return np.select(
        [score <= NPS_SCALE.detractor_max, score < NPS_SCALE.promoter_min], [0, 1], default=2
    )


def answer_causes(
    detractor_reason: np.ndarray, score: np.ndarray, slow: np.ndarray, repeat: np.ndarray
) -> np.ndarray:
    """The cause (index into CAUSES) behind each answer: a Detractor's drawn reason, a
    Passive's milder experience (slow, repeat contacts, else nothing in particular), a
    Promoter's praise."""
    passive = np.select(
        [slow, repeat], [CAUSES.index("slow"), CAUSES.index("repeat")], CAUSES.index("general")
    )
    tone = tone_of(score)
    return np.select([tone == 0, tone == 1], [detractor_reason, passive], CAUSES.index("praise"))


def draw_comments(rng: np.random.Generator, score: np.ndarray, cause: np.ndarray) -> np.ndarray:
    """Index into comment_texts() per answer, -1 for no comment (two uniforms per answer)."""
    _, offsets, counts = _catalogue()
    u = rng.random(score.size)
    tone = tone_of(score)
    count = counts[cause, tone]
    if (count == 0).any():
        raise ValueError("a cause was drawn with a tone it has no texts for")
    pick = offsets[cause, tone] + np.minimum((u * count).astype(np.int64), count - 1)
    return np.where(rng.random(score.size) < COMMENT_SHARE, pick, -1)
