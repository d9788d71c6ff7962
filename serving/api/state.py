"""What the running app holds: the served model (swapped whole on reload) and the store."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from fastapi import HTTPException, Request, status

from nps_core.config import Settings
from serving.lists.store import Store, open_store
from serving.predictor import ServingModel
from training.registry import CHAMPION, load_model


@dataclass
class ModelHolder:
    current: ServingModel | None = None
    error: str | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


def build_serving_model(settings: Settings, *, use_cache: bool = True) -> ServingModel:
    """The champion through the one loader, checked and ready to answer."""
    loaded = load_model(settings, CHAMPION, use_cache=use_cache)
    return ServingModel(loaded, fast_shap=settings.fast_shap)


def current_model(request: Request) -> ServingModel:
    """The model this request keeps, even if a reload swaps it meanwhile."""
    holder: ModelHolder = request.app.state.holder
    model = holder.current
    if model is None:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, f"no model loaded: {holder.error or 'starting'}"
        )
    return model


def current_store(request: Request) -> Store:
    """The risk-list store, opened on first use (the model routes never need it)."""
    state = request.app.state
    if getattr(state, "store", None) is None:
        state.store = open_store(state.settings.store_url)
    store: Store = state.store
    return store
