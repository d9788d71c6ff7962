"""What the running app holds: the served model (swapped whole on reload) and the store.

At start the registry gets ``registry_timeout_s`` to hand over the champion. If it does not,
the last good local copy serves (or nothing, and the API says "no model loaded") while a
background task keeps asking with a bounded back-off; when the registry answers, its
champion is swapped in through ``swap_champion``, the path POST /v1/admin/reload takes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from fastapi import HTTPException, Request, status

from features.database import Source, open_source, reachable, read_scale
from features.dataset import Dataset, load_dataset
from nps_core.config import Settings
from nps_core.errors import ConfigError
from nps_core.scale import ScoreScale
from serving.api.metrics import Metrics
from serving.lists.store import Store, open_store
from serving.predictor import ServingModel
from training.registry import CHAMPION, load_cached, load_model, warm_up

log = logging.getLogger("nps_risk.serving")
NO_MODEL = "no model loaded"  # all an unauthenticated caller learns; the log has the why
FIRST_RETRY_S = 1.0
T = TypeVar("T")


@dataclass
class ModelHolder:
    current: ServingModel | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    retry: asyncio.Task[None] | None = None  # asks an unreachable registry again, in the background


def build_serving_model(settings: Settings, *, use_cache: bool = True) -> ServingModel:
    """The champion through the one loader, checked and ready to answer."""
    loaded = load_model(settings, CHAMPION, use_cache=use_cache)
    return ServingModel(loaded, fast_shap=settings.fast_shap)


def build_cached_model(settings: Settings) -> ServingModel | None:
    """The last good local copy of the champion, checked, or None if there is none."""
    loaded = load_cached(settings, CHAMPION)
    return None if loaded is None else ServingModel(loaded, fast_shap=settings.fast_shap)


def in_daemon_thread(work: Callable[..., T], *args: Any, **kwargs: Any) -> asyncio.Future[T]:
    """``work`` on a daemon thread of its own, as a future of this event loop.

    A registry that does not answer may keep the thread for minutes (MLflow's own retries);
    the caller stops waiting at its deadline, and a daemon thread never holds up shutdown."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(result: Any, error: BaseException | None) -> None:
        if future.done():  # cancelled meanwhile
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)

    def run() -> None:
        result: Any = None
        error: BaseException | None = None
        try:
            result = work(*args, **kwargs)
        except BaseException as exc:  # handed to whoever awaits the future
            error = exc
        with contextlib.suppress(RuntimeError):  # the loop closed: nobody waits any more
            loop.call_soon_threadsafe(settle, result, error)

    threading.Thread(target=run, name=f"nps-risk {work.__name__}", daemon=True).start()
    return future


def install(holder: ModelHolder, metrics: Metrics, model: ServingModel) -> None:
    holder.current = model
    metrics.set_model(model.loaded.name, model.version, model.loaded.source)
    loaded = model.loaded
    level = logging.INFO if loaded.source == "registry" else logging.WARNING
    log.log(level, "serving %s version %s (%s)", loaded.name, model.version, loaded.source)


async def swap_champion(state: Any) -> tuple[ServingModel, ServingModel | None]:
    """Build the registry's champion off the event loop, then swap one reference: the new
    model and the one it replaced. Requests in flight keep the model they started with; if
    no model can be built the old one keeps serving and the error is raised."""
    holder: ModelHolder = state.holder
    metrics: Metrics = state.metrics
    async with holder.lock:
        previous = holder.current
        try:
            fresh = await in_daemon_thread(build_serving_model, state.settings, use_cache=False)
        except Exception:
            metrics.reloads.labels(outcome="refused").inc()
            raise
        install(holder, metrics, fresh)
        metrics.reloads.labels(outcome="swapped").inc()
    return fresh, previous


async def load_at_start(state: Any) -> None:
    """The champion as the loader gives it (the registry's, or the last good local copy if
    the registry cannot be reached) if that takes under ``registry_timeout_s``; else the
    local copy (or none) now. Unless the registry's champion serves, it is asked again in
    the background."""
    settings: Settings = state.settings
    holder: ModelHolder = state.holder
    await in_daemon_thread(warm_up)  # local work: the deadline below is the registry's alone
    served: ServingModel | None = None
    try:
        served = await asyncio.wait_for(
            in_daemon_thread(build_serving_model, settings), settings.registry_timeout_s
        )
    except TimeoutError:  # the attempt's thread runs on; its answer is not waited for
        log.warning(
            "the model registry did not answer within %.1f s; asking again in the background",
            settings.registry_timeout_s,
        )
        try:
            served = await in_daemon_thread(build_cached_model, settings)
        except Exception as exc:
            log.error("the last good local copy cannot serve: %s", exc)
    except Exception as exc:
        log.error("%s: %s", NO_MODEL, exc)
    if served is not None:
        install(holder, state.metrics, served)
    else:
        log.error("%s: asking the registry again in the background", NO_MODEL)
    if served is None or served.loaded.source != "registry":
        holder.retry = asyncio.create_task(_keep_asking(state))


async def _keep_asking(state: Any) -> None:
    """Ask the registry for its champion, pausing twice as long each time (up to
    ``registry_retry_max_s``), until it hands it over or an admin reload got it first."""
    holder: ModelHolder = state.holder
    pause = FIRST_RETRY_S
    while True:
        await asyncio.sleep(pause)
        pause = min(2 * pause, state.settings.registry_retry_max_s)
        if holder.current is not None and holder.current.loaded.source == "registry":
            return
        try:
            await swap_champion(state)
            return
        except Exception as exc:
            log.warning("still no champion from the registry (%s); next try in %.0f s", exc, pause)


async def stop_asking(holder: ModelHolder) -> None:
    task, holder.retry = holder.retry, None
    if task is not None and not task.done():
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def current_model(request: Request) -> ServingModel:
    """The model this request keeps, even if a reload swaps it meanwhile."""
    holder: ModelHolder = request.app.state.holder
    model = holder.current
    if model is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, NO_MODEL)
    return model


def current_store(request: Request) -> Store:
    """The risk-list store, opened on first use (the model routes never need it)."""
    state = request.app.state
    if getattr(state, "store", None) is None:
        state.store = open_store(state.settings.store_url)
    store: Store = state.store
    return store


@dataclass(frozen=True)
class LiveSource:
    """The database source the live routes read and events write, and its score scale."""

    source: Source
    scale: ScoreScale


NO_SOURCE = (
    "no database source: start the server with `nps-risk serve --data URL` or set NPS_RISK_DATA_URL"
)


def _source_url(request: Request) -> str:
    url: str | None = request.app.state.settings.data_url
    if url is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, NO_SOURCE)
    return url


def current_dataset(request: Request) -> Dataset:
    """Every table of the database source, validated as a file's, read now: the manager's
    routes answer from what is recorded at the moment they are asked (503 without a source).
    Blocking: call it off the event loop."""
    url = _source_url(request)
    try:
        with reachable(url):
            return load_dataset(url, workers=request.app.state.settings.threads)
    except (ConfigError, FileNotFoundError) as exc:  # down, or never filled: the log says which
        log.error("the database source cannot be read: %s", exc)
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            "the database source cannot be read; the server log has the details",
        ) from None


def current_source(request: Request) -> LiveSource:
    """The database source named by ``--data URL`` / NPS_RISK_DATA_URL, opened (and its
    schema brought up to date) on first use; 503 when none is configured."""
    state = request.app.state
    live: LiveSource | None = getattr(state, "source", None)
    if live is None:
        url = _source_url(request)
        with reachable(url):
            source = open_source(url)
            live = LiveSource(source, read_scale(source))
        state.source = live
    return live
