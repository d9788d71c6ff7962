"""`make screenshots`: the dashboard in a real headless Chromium, on a small simulated world.

It builds the world with the product's own commands (``simulate-loop``: a champion, daily
lists, calls; ``load``: the database source), has the support teams work a share of the
Detractor follow-ups (recorded at their simulated times, so the ledger's point-in-time view
sees them), starts ``nps-risk serve`` on 127.0.0.1 with a fresh key, opens every view and saves
a screenshot of each (``outputs/dashboard/``) and the README's (``docs/dashboard.png``).

``browse`` is also what the browser tests run: per view it records every request the page
made, its console errors, and how many pixels each chart canvas drew. Playwright drives
Debian's ``chromium`` (``/usr/bin/chromium``), never a browser it downloads.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import numpy as np
import pandas as pd

from nps_core.errors import TransitionError
from serving.api.auth import new_key
from serving.api.routes.dashboard import PREFIX
from serving.cli import main as cli
from serving.dashboard.views import VIEWS
from serving.lists.ledger import DETRACTOR_ANSWER
from serving.lists.store import list_dates, open_store, read_follow_ups, record_contact

if TYPE_CHECKING:
    from playwright.sync_api import ConsoleMessage, Error, Page, Request

CHROMIUM = "/usr/bin/chromium"
SLUGS = tuple(view[0] for view in VIEWS)
LISTS_FROM = date(2026, 8, 31)  # 8 daily lists after 242 days of history
WORLD = [
    "--customers",
    "2000",
    "--days",
    "250",
    "--capacity",
    "15",
    "--effect-high",
    "-1.5",
    "--effect-low",
    "0",
    "--seed",
    "5",
]
# counts the pixels a canvas drew (any not fully transparent)
PIXELS_JS = """() => Array.from(document.querySelectorAll('canvas')).map(c => {
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let n = 0; for (let i = 3; i < d.length; i += 4) { if (d[i] > 0) n++; } return n; })"""


@dataclass(frozen=True)
class World:
    folder: Path
    source_url: str
    store_url: str
    as_of: date  # the day after the newest list: every list, call and answer known then


def work_follow_ups(store_url: str, share: float = 0.7, seed: int = 0) -> int:
    """The teams reach a share of the Detractor answers, each 1 to 36 hours after its
    follow-up opened (some only get voicemail): what the simulated loop leaves undone."""
    store = open_store(store_url)
    days = list_dates(store)
    end = pd.Timestamp(days[-1], tz="UTC") + pd.Timedelta(days=1)
    _, follow = read_follow_ups(store, end.to_pydatetime(), kind=DETRACTOR_ANSWER, limit=100_000)
    rng = np.random.default_rng(seed)
    done = 0
    for _, row in follow.iterrows():
        if rng.random() > share:
            continue
        start = max(pd.Timestamp(row["created_at"]), pd.Timestamp(row["recorded_at"]))
        at = (start + pd.Timedelta(hours=float(rng.uniform(1, 36)))).floor("s")
        if at >= end:
            continue
        contact: dict[str, Any] = {
            "customer_id": str(row["customer_id"]),
            "contacted_at": at.to_pydatetime(),
            "outcome": "reached" if rng.random() < 0.8 else "no_answer",
            "channel": "phone",
            "notes": "screenshot world",
            "recorded_at": at.to_pydatetime(),
        }
        try:
            record_contact(store, follow_up_id=str(row["follow_up_id"]), **contact)
        except TransitionError:  # a daily run expired it first: the call goes to the attempt log
            record_contact(store, **contact)
        done += 1
    return done


def build_world(folder: Path) -> World:
    """A small simulated loop, its database source and worked follow-ups (about a minute)."""
    folder = folder.resolve()
    store_url = f"sqlite:///{folder / 'store.db'}"
    source_url = f"sqlite:///{folder / 'source.db'}"
    if folder.is_dir() and any(folder.iterdir()) and not (folder / "source.db").is_file():
        raise SystemExit(f"screenshots: {folder} holds an unfinished world; remove it first")
    if not (folder / "source.db").is_file():  # the source is written last: a finished world
        loop = ["simulate-loop", *WORLD, "--lists-from", LISTS_FROM.isoformat()]
        if cli([*loop, "--out", str(folder), "--quiet"]) != 0:
            raise SystemExit("screenshots: `nps-risk simulate-loop` failed")
        work_follow_ups(store_url)
        if cli(["load", "--data", str(folder), "--into", source_url]) != 0:
            raise SystemExit("screenshots: `nps-risk load` failed")
    newest = list_dates(open_store(store_url))[-1]
    return World(folder, source_url, store_url, newest + timedelta(days=1))


def server_env(world: World, key_digest: str) -> dict[str, str]:
    """The environment a server over ``world`` runs with: its champion, store and source."""
    return {
        "NPS_RISK_HOME": str(world.folder),
        "NPS_RISK_MLRUNS_DIR": str(world.folder / "mlruns"),
        "NPS_RISK_DATABASE_URL": world.store_url,
        "NPS_RISK_DATA_URL": world.source_url,
        "NPS_RISK_API_KEYS": key_digest,
        "MLFLOW_DISABLE_TELEMETRY": "true",
    }


@contextlib.contextmanager
def serve(world: World, key_digest: str) -> Iterator[str]:
    """``nps-risk serve`` on a free port of 127.0.0.1, until the block ends; yields its URL."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, **server_env(world, key_digest)}
    env.pop("MLFLOW_TRACKING_URI", None)
    command = [sys.executable, "-m", "serving.cli", "serve", "--port", str(port)]
    process = subprocess.Popen([*command, "--log-level", "warning"], env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and process.poll() is None:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            time.sleep(0.2)
        else:
            raise SystemExit("screenshots: the server did not get ready")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


@dataclass
class Visit:
    view: str
    status: int | None
    requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    canvas_pixels: list[int] = field(default_factory=list)
    charts_drawn: int | None = None
    text: str = ""
    screenshot: Path | None = None


def _listen(page: Page, visit: Visit) -> None:
    """Record on ``visit`` every request ``page`` makes and every console or script error."""

    def on_request(request: Request) -> None:
        visit.requests.append(request.url)

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            visit.console_errors.append(message.text)

    def on_error(error: Error) -> None:
        visit.console_errors.append(str(error))

    page.on("request", on_request)
    page.on("console", on_console)
    page.on("pageerror", on_error)


def browse(
    url: str,
    key: str,
    as_of: date,
    out_dir: Path,
    views: Sequence[str] = SLUGS,
    width: int = 1200,
) -> list[Visit]:
    """Open each view with the Bearer key in headless Chromium, as of ``as_of``; record what
    it requested, its console errors and its charts' pixels; save a full-page screenshot."""
    from playwright.sync_api import sync_playwright

    out_dir.mkdir(parents=True, exist_ok=True)
    visits = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        context = browser.new_context(
            viewport={"width": width, "height": 900},
            extra_http_headers={"Authorization": f"Bearer {key}"},
        )
        for view in views:
            visit = Visit(view, None)
            page = context.new_page()  # one page a view: its own requests and console
            _listen(page, visit)
            answer = page.goto(f"{url}{PREFIX}/{view}?as_of={as_of.isoformat()}")
            visit.status = answer.status if answer else None
            page.wait_for_function("document.documentElement.dataset.chartsDrawn !== undefined")
            visit.charts_drawn = int(page.evaluate("document.documentElement.dataset.chartsDrawn"))
            visit.canvas_pixels = list(page.evaluate(PIXELS_JS))
            visit.text = page.inner_text("main")
            visit.screenshot = out_dir / f"{view}.png"
            page.screenshot(path=str(visit.screenshot), full_page=True)
            page.close()
            visits.append(visit)
        browser.close()
    return visits


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m serving.screenshots", description=__doc__)
    parser.add_argument("--world", type=Path, default=Path("outputs/screenshots-world"))
    parser.add_argument("--out", type=Path, default=Path("outputs/dashboard"))
    parser.add_argument("--readme", type=Path, default=Path("docs/dashboard.png"))
    args = parser.parse_args(argv)
    world = build_world(args.world)
    key, key_digest = new_key()
    with serve(world, key_digest) as url:
        visits = browse(url, key, world.as_of, args.out)
    for visit in visits:
        print(f"{visit.view:<8} {visit.status} charts {visit.charts_drawn}  {visit.screenshot}")
    readme = next(v for v in visits if v.view == "nps")
    _crop(readme.screenshot, args.readme, height=1100)  # the README's: the NPS view's top
    print(f"README screenshot: {args.readme}")
    return 0


def _crop(source: Path | None, target: Path, height: int) -> None:
    from matplotlib import image

    assert source is not None
    pixels = image.imread(source)
    target.parent.mkdir(parents=True, exist_ok=True)
    image.imsave(target, pixels[:height])


if __name__ == "__main__":
    raise SystemExit(main())
