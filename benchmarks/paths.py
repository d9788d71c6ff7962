"""Where the real-data files are, for the benchmarks and the tests alike (one owner).

The e-commerce CSAT file of ../shared/data travels with the repository, gzip-compressed,
so the real-data tests run on every fresh clone (a test checks it is the same file).
"""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ECOMMERCE_CSV = REPO / "examples" / "data" / "ecommerce_csat.csv.gz"
SHARED_ECOMMERCE_CSV = REPO.parent / "shared" / "data" / "ecommerce_csat.csv"
ECOMMERCE_MAPPING = REPO / "examples" / "ecommerce_csat.mapping.toml"
