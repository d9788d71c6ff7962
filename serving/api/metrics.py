"""Prometheus metrics for one app instance (its own registry, so tests and apps never share)."""

from __future__ import annotations

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
