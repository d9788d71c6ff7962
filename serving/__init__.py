"""The application: the HTTP API, the daily list, analytics, the model hot path and the CLI."""
