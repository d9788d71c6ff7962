"""Where the real-data files are, for the benchmarks and the tests alike (one owner)."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ECOMMERCE_CSV = REPO.parent / "shared" / "data" / "ecommerce_csat.csv"
ECOMMERCE_MAPPING = REPO / "examples" / "ecommerce_csat.mapping.toml"
