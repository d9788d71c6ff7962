"""The NPS domain: scales and segments, NPS arithmetic, table contracts, settings. No I/O."""
