"""Training: datasets, LightGBM and baselines, metrics, calibration, reports, the MLflow registry."""
