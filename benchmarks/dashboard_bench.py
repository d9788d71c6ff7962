"""How long each dashboard view takes to answer, beside GET /v1/model on the same server.

The world is `make screenshots`'s (a 2,000-customer simulated loop with 8 daily lists and its
database source), built once into the cache folder and never timed. One `nps-risk serve`
answers every request; each view is asked once cold (the first NPS request reads the
database source), then ``repeats`` times in turn with the reference route, sequentially,
so the medians share the machine's load. Pages are rendered whole on the server (the browser
then draws the charts; that part is not timed here).
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import httpx

from benchmarks import BenchOptions, in_fresh_process, log

REFERENCE = "/v1/model"


def _world(folder: str) -> dict[str, str]:
    from pathlib import Path

    from serving.screenshots import build_world

    world = build_world(Path(folder))
    return {"folder": str(world.folder), "as_of": world.as_of.isoformat()}


def _get_ms(client: httpx.Client, path: str) -> float:
    began = time.perf_counter()
    answer = client.get(path)
    elapsed = 1000 * (time.perf_counter() - began)
    answer.raise_for_status()
    return elapsed


def run(options: BenchOptions) -> dict[str, Any]:
    from datetime import date
    from pathlib import Path

    from serving.api.auth import new_key
    from serving.dashboard.views import VIEWS
    from serving.screenshots import World, serve

    repeats = options.repeats or (3 if options.quick else 15)
    built = in_fresh_process(_world, str(options.cache_dir / "dashboard-world"))
    folder = Path(built["folder"])
    world = World(
        folder,
        f"sqlite:///{folder / 'source.db'}",
        f"sqlite:///{folder / 'store.db'}",
        date.fromisoformat(built["as_of"]),
    )
    key, key_digest = new_key()
    paths = {slug: f"/dashboard/{slug}?as_of={world.as_of}" for slug, _ in VIEWS}
    paths["reference: GET /v1/model"] = REFERENCE
    times: dict[str, list[float]] = {name: [] for name in paths}
    cold: dict[str, float] = {}
    with serve(world, key_digest) as url:
        headers = {"Authorization": f"Bearer {key}"}
        with httpx.Client(base_url=url, headers=headers, timeout=120) as client:
            for name, path in paths.items():
                cold[name] = _get_ms(client, path)
            log(f"timing each view x{repeats}")
            for _ in range(repeats):
                for name, path in paths.items():
                    times[name].append(_get_ms(client, path))
    reference = statistics.median(times["reference: GET /v1/model"])
    rows = {
        name: {
            "first_ms": round(cold[name], 1),
            "median_ms": round(statistics.median(values), 1),
            "max_ms": round(max(values), 1),
            "x_reference": round(statistics.median(values) / reference, 1),
        }
        for name, values in times.items()
    }
    return {
        "rows": rows,
        "notes": "milliseconds per GET, sequential, one server; first_ms is the cold request "
        "(the NPS view's reads the database source, kept a minute); x_reference: median over "
        "GET /v1/model's median in the same run",
        "runs": times,
    }
