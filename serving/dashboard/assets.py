"""The dashboard's static files, shipped inside the package: the vendored Chart.js
(``static/VENDORED.json`` records its version, license and checksum) and the page script.

Each is addressed with a digest of its bytes in the URL, so a browser may keep it for a year:
a changed file is a new address.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cache
from importlib import resources

SCRIPTS = ("chart.umd.min.js", "dashboard.js")


@dataclass(frozen=True)
class Asset:
    name: str
    body: bytes
    digest: str  # the first 12 hex digits of its SHA-256: the address's version

    def url(self, prefix: str) -> str:
        return f"{prefix}/static/{self.digest}/{self.name}"


@cache
def assets() -> dict[str, Asset]:
    """Every script a page loads, by name, read once from the package."""
    folder = resources.files("serving.dashboard") / "static"
    found = {}
    for name in SCRIPTS:
        body = (folder / name).read_bytes()
        found[name] = Asset(name, body, hashlib.sha256(body).hexdigest()[:12])
    return found


def vendored() -> dict[str, dict[str, str]]:
    """What was vendored, from which package and version, under which license."""
    text = (resources.files("serving.dashboard") / "static" / "VENDORED.json").read_text()
    record: dict[str, dict[str, str]] = json.loads(text)
    return record
