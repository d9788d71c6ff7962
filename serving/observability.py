"""Prometheus metrics for one app instance (its own registry, so tests and apps never share)."""

from __future__ import annotations

import json
import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.003, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "nps_risk_requests",
            "HTTP requests",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "nps_risk_request_seconds",
            "HTTP request latency",
            ["route", "method", "status"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.predictions = Counter(
            "nps_risk_predictions",
            "customers scored, by risk band",
            ["band"],
            registry=self.registry,
        )
        self.model = Gauge(
            "nps_risk_model_info",
            "the model being served (value 1)",
            ["name", "version", "source"],
            registry=self.registry,
        )
        self.reloads = Counter(
            "nps_risk_model_reloads", "model reload attempts", ["outcome"], registry=self.registry
        )

        # labelled children, looked up once: ``labels()`` costs ~2 us a call on the hot path
        self._requests: dict[tuple[str, str, str], tuple[Any, Any]] = {}
        self._bands: dict[str, Any] = {}

    def observe_request(self, route: str, method: str, status: str, seconds: float) -> None:
        key = (route, method, status)
        children = self._requests.get(key)
        if children is None:
            labels = {"route": route, "method": method, "status": status}
            children = self.requests.labels(**labels), self.latency.labels(**labels)
            self._requests[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def count_predictions(self, band: str, count: int) -> None:
        child = self._bands.get(band)
        if child is None:
            child = self._bands[band] = self.predictions.labels(band=band)
        child.inc(count)

    def set_model(self, name: str, version: str, source: str) -> None:
        self.model.clear()
        self.model.labels(name=name, version=version, source=source).set(1)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class MetricsMiddleware:
    """Pure ASGI (no per-request task): counts and times every HTTP request by route template."""

    def __init__(self, app: Any, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = {"code": 500}

        async def send_wrapper(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", None) or "(unmatched)"
            self.metrics.observe_request(
                path, scope["method"], str(status["code"]), time.perf_counter() - started
            )


class BodyLimitMiddleware:
    """413 before reading a body larger than the limit (declared or streamed)."""

    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit():
            if int(declared) > self.max_bytes:
                await _too_large(send, self.max_bytes)
            else:  # the server reads no more than the declared length: nothing to count
                await self.app(scope, receive, send)
            return
        seen = 0
        started = {"yes": False}

        async def limited_receive() -> dict[str, Any]:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise _BodyTooLarge
            return message

        async def tracking_send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                started["yes"] = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _BodyTooLarge:
            if not started["yes"]:
                await _too_large(send, self.max_bytes)


class _BodyTooLarge(Exception):
    pass


async def _too_large(send: Any, limit: int) -> None:
    body = json.dumps(
        {"error": "request body too large", "detail": f"at most {limit} bytes"}
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
