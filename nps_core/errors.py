"""Domain exceptions. Only the API and CLI layers turn them into HTTP answers or exit codes."""

from __future__ import annotations

from typing import Any


class NpsRiskError(Exception):
    """Base of every error this project raises on purpose."""


class SchemaError(NpsRiskError):
    """A file or frame does not have the shape its contract asks for."""

    def __init__(self, message: str, *, source: str | None = None, column: str | None = None):
        self.source = source
        self.column = column
        where = ", ".join(
            part
            for part in (f"file {source}" if source else "", f"column '{column}'" if column else "")
            if part
        )
        super().__init__(f"{where}: {message}" if where else message)


class DataValidationError(NpsRiskError):
    """One value is wrong; names the file, row, column and value so the user can fix it."""

    def __init__(
        self, message: str, *, source: str, row: int | None, column: str, value: Any
    ) -> None:
        self.source = source
        self.row = row
        self.column = column
        self.value = value
        at_row = f", row {row}" if row is not None else ""
        super().__init__(f"file {source}{at_row}, column '{column}', value {value!r}: {message}")


class ConfigError(NpsRiskError):
    """A setting or mapping file is missing or inconsistent."""


class ModelNotFoundError(NpsRiskError):
    """No model is available where one was asked for."""


class InvalidTimeError(NpsRiskError, ValueError):
    """A point in time that cannot be asked about: missing (NaT), unreadable, or outside
    the years a nanosecond timestamp holds (1678-2261). A ValueError too, so callers that
    check arguments with ``except ValueError`` keep working."""


class RegistryUnreachableError(NpsRiskError):
    """The model registry (MLflow's tracking store) did not answer."""


class LedgerError(NpsRiskError):
    """An outcome the outreach ledger cannot record (the API answers 404, 409 or 422)."""


class FollowUpNotFoundError(LedgerError):
    """No follow-up with this id (or none open for this customer) was known at the time."""


class TransitionError(LedgerError):
    """The follow-up's status does not allow this outcome (e.g. it is closed)."""


class FollowUpMismatchError(LedgerError):
    """The follow-up named belongs to another customer or answer."""
