"""Prometheus metrics by route, method and status, and predictions by band."""

from serving.api.metrics import Metrics


def _value(metrics: Metrics, name: str, labels: dict[str, str]) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


def test_requests_and_predictions_are_counted_by_their_labels():
    metrics = Metrics()
    for seconds in (0.0004, 0.003):
        metrics.observe_request("/v1/predict", "POST", "200", seconds)
    metrics.observe_request("/v1/predict", "POST", "422", 0.001)
    metrics.count_predictions("high", 3)
    metrics.count_predictions("high", 2)
    metrics.count_predictions("low", 1)
    ok = {"route": "/v1/predict", "method": "POST", "status": "200"}
    assert _value(metrics, "nps_risk_requests_total", ok) == 2
    assert _value(metrics, "nps_risk_requests_total", {**ok, "status": "422"}) == 1
    assert _value(metrics, "nps_risk_request_seconds_count", ok) == 2
    assert _value(metrics, "nps_risk_request_seconds_bucket", {**ok, "le": "0.0005"}) == 1
    assert _value(metrics, "nps_risk_predictions_total", {"band": "high"}) == 5
    assert _value(metrics, "nps_risk_predictions_total", {"band": "low"}) == 1
    assert _value(metrics, "nps_risk_predictions_total", {"band": "medium"}) is None
    text = metrics.exposition().decode()
    assert 'nps_risk_predictions_total{band="high"} 5.0' in text
