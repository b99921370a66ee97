"""Run the workbook: execute the numbered notebooks with papermill into a run folder, atomically."""

from __future__ import annotations

from crmlib.errors import RunSetupError
from crmlib.runner._execute import run_notebooks
from crmlib.runner._folders import (  # noqa: F401  (private, used by tests/test_runner.py)
    _recover,
    _swap_into_place,
)
from crmlib.runner._notebooks import (
    DEFAULT_KERNEL,
    KERNEL_INSTALL_COMMAND,
    check_kernel,
    discover_notebooks,
)
from crmlib.runner._plan import (
    STAGE_INPUTS,
    check_artifacts,
    check_inputs,
    check_stage_order,
    plan_stages,
    required_artifacts,
)
from crmlib.runner._provenance import VERSIONED_PACKAGES, input_fingerprints, package_versions
from crmlib.runner._results import FailureInfo, NotebookOutcome, ProgressEvent, RunResult

__all__ = [
    "DEFAULT_KERNEL",
    "KERNEL_INSTALL_COMMAND",
    "VERSIONED_PACKAGES",
    "STAGE_INPUTS",
    "RunSetupError",
    "FailureInfo",
    "NotebookOutcome",
    "ProgressEvent",
    "RunResult",
    "discover_notebooks",
    "check_kernel",
    "package_versions",
    "input_fingerprints",
    "plan_stages",
    "check_inputs",
    "check_stage_order",
    "required_artifacts",
    "check_artifacts",
    "run_notebooks",
]
