"""SimulationConfig: the size, seed and knobs of one simulation, checked when it is made."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from nps_core.errors import ConfigError

_MAX_DAYS = 10_000  # exp(days / 30) must stay far from float64 overflow in the decays


@dataclass(frozen=True)
class SimulationConfig:
    """Size, seed and knobs of one simulation; the same config always gives the same tables."""

    customers: int = 2000
    days: int = 180
    seed: int = 0
    start: str = "2026-01-01"  # first simulated day, UTC
    internal_share: float = 0.01  # internal/test accounts
    dirt_rows: int | None = None  # None: max(6, rows // 1000); 0: none
    outreach_effect: float = 0.0  # reserved, unused: simulate-loop gives LoopWorld its effects
    patience_sd: float = 1.0  # spread of the latent patience; 0: every customer equally patient

    def __post_init__(self) -> None:
        if self.customers < 1:
            raise ConfigError(f"customers must be at least 1, got {self.customers}")
        if not 1 <= self.days <= _MAX_DAYS:
            raise ConfigError(f"days must be between 1 and {_MAX_DAYS}, got {self.days}")
        if self.seed < 0:
            raise ConfigError(f"seed must be a non-negative integer, got {self.seed}")
        if not 0.0 <= self.internal_share <= 1.0:
            raise ConfigError(f"internal_share must be in [0, 1], got {self.internal_share}")
        if self.dirt_rows is not None and self.dirt_rows < 0:
            raise ConfigError(f"dirt_rows must be >= 0 or None, got {self.dirt_rows}")
        if not math.isfinite(self.outreach_effect):
            raise ConfigError(f"outreach_effect must be finite, got {self.outreach_effect}")
        if not (math.isfinite(self.patience_sd) and self.patience_sd >= 0):
            raise ConfigError(f"patience_sd must be finite and >= 0, got {self.patience_sd}")
        _start_ns(self.start)


def _start_ns(start: str) -> int:
    try:
        stamp = pd.Timestamp(start)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"start must be a date like '2026-01-01', got {start!r}") from exc
    if stamp is pd.NaT:  # type: ignore[comparison-overlap]  # the stubs miss Timestamp("NaT")
        raise ConfigError(f"start must be a date like '2026-01-01', got {start!r}")
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return int(stamp.as_unit("ns").value)
