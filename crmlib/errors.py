"""The workbook's error hierarchy: every error a user can meet, rooted at WorkbookError."""

from __future__ import annotations

__all__ = [
    "WorkbookError",
    "ConfigError",
    "DataContractError",
    "SourceFileError",
    "StageInputMissing",
    "EngineError",
    "RunLockedError",
    "RunSetupError",
    "CheckFailed",
]


class WorkbookError(Exception):
    """Base class of every error raised on purpose by crmlib."""


class ConfigError(WorkbookError):
    """A params file is missing, unreadable, or has an unknown key or a wrong type."""


class DataContractError(WorkbookError):
    """A table does not meet the data contract (missing column, wrong type, bad value)."""


class SourceFileError(DataContractError):
    """A source file cannot be read as described (missing, empty, wrong delimiter, encoding)."""


class StageInputMissing(WorkbookError):
    """An upstream artifact is missing from the run folder: an earlier notebook must run first."""


class EngineError(WorkbookError):
    """The SQL engine failed to run a query from crmlib/sql."""


class RunLockedError(WorkbookError):
    """Another run is writing the same run folder."""


class RunSetupError(WorkbookError):
    """The run cannot start: unknown notebook, missing kernel, no previous run to reuse, or an unusable outputs folder."""


class CheckFailed(WorkbookError):
    """A business-rule check in a notebook failed."""
