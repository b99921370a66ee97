"""crmlib: the helper package of the Retention Workbook (one module per concern).

Notebooks use it as ``import crmlib as crm`` and call ``crm.ingest.run_ingest(...)``,
``crm.kpis.kpis_by_period(...)`` and so on. Submodules load on first use, so importing
``crmlib`` is cheap and changes no global state.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import TYPE_CHECKING

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "activation",
    "checks",
    "churn",
    "clv",
    "cohorts",
    "config",
    "engine",
    "errors",
    "experiments",
    "formatting",
    "history",
    "ingest",
    "intervals",
    "io",
    "kpis",
    "periods",
    "plotting",
    "privacy",
    "report",
    "runner",
    "segments",
    "stages",
    "synth",
]

_SUBMODULES = frozenset(__all__) - {"__version__"}

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from crmlib import (  # noqa: F401
        activation,
        checks,
        churn,
        clv,
        cohorts,
        config,
        engine,
        errors,
        experiments,
        formatting,
        history,
        ingest,
        intervals,
        io,
        kpis,
        periods,
        plotting,
        privacy,
        report,
        runner,
        segments,
        stages,
        synth,
    )


def __getattr__(name: str) -> ModuleType:
    if name in _SUBMODULES:
        module = importlib.import_module(f"crmlib.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'crmlib' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
