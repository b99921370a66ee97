"""07_ab_test's experiment table, from the assignments or from an experimentation platform's export.

Two ways in (``ab_test.input``): the canonical ``assignments`` with transactions and events
(outcomes in SQL, :func:`crmlib.experiments.queries.outcomes.experiment_outcomes`, plus segment
columns from ``customers``), or an export with per-customer outcome columns
(``source.experiment_export``, :func:`crmlib.experiments.queries.export.read_experiment_export`).
Either way the result is one row per customer and experiment. Without any experiment data the
table is empty and the words say so (:func:`crmlib.experiments.text.describe_data`).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pandas as pd

from crmlib.config import WorkbookParams
from crmlib.engine import Engine
from crmlib.errors import ConfigError
from crmlib.experiments.models.small_cells import experiments_with_small_arms
from crmlib.experiments.queries.export import (
    EXPORT_REJECT_COLUMNS,
    check_export_columns,
    read_experiment_export,
)
from crmlib.experiments.queries.outcomes import experiment_outcomes, part_of
from crmlib.io import RunFolder
from crmlib.privacy import SmallCells

__all__ = [
    "ExperimentData",
    "experiment_data",
    "empty_table",
    "check_experiment_export",
    "experiment_input",
    "register_inputs",
]

log = logging.getLogger(__name__)


_TIMING_COLUMNS = ("days_to_purchase", "observed_days_total")


_ID_COLUMNS = ("experiment_id", "customer_id", "variant")


@dataclass(frozen=True)
class ExperimentData:
    """The experiment table 07_ab_test analyses, and what was left out of it and why.

    Attributes
    ----------
    source : str
        ``"assignments"``, ``"export"`` or ``"none"`` (no experiment data).
    table : pd.DataFrame
        One row per customer and experiment: experiment_id, customer_id, variant, the metric,
        covariate and segment columns (and, from assignments, every outcome column).
    metrics : dict
        Experiment -> the metrics analysed for it (a metric with a missing value in an
        experiment, e.g. ``retained`` while its window is open, is left out of that one).
    covariates : dict
        Metric -> its CUPED covariate, for the covariates present.
    ratio_metrics : dict
        Name -> (numerator, denominator), for the pairs present.
    segments : tuple of str
        Segment columns present.
    notes : tuple of str
        Plain sentences: what was left out, open windows, rejects, excluded customers.
    rejects : pd.DataFrame
        Rejected export rows (:data:`crmlib.experiments.EXPORT_REJECT_COLUMNS`: file,
        source_row, reason, column, detail; no customer id); empty, with those columns, for
        the assignments input (01_ingest keeps their rejects).
    rows_read : int
        Export rows read (0 for assignments).
    excluded_multiple_variants : dict
        Experiment -> customers exposed to more than one variant (excluded).
    """

    source: str
    table: pd.DataFrame
    metrics: dict[str, tuple[str, ...]]
    covariates: dict[str, str]
    ratio_metrics: dict[str, tuple[str, str]]
    segments: tuple[str, ...]
    notes: tuple[str, ...] = ()
    rejects: pd.DataFrame = field(default_factory=lambda: empty_table(EXPORT_REJECT_COLUMNS))
    rows_read: int = 0
    excluded_multiple_variants: dict[str, int] = field(default_factory=dict)

    @property
    def available(self) -> bool:
        """Whether there is at least one assigned customer to analyse."""
        return self.source != "none" and len(self.table) > 0

    @property
    def has_timing(self) -> bool:
        """Whether time to first purchase is known (Kaplan-Meier, cumulative outcome)."""
        return self.available and all(column in self.table for column in _TIMING_COLUMNS)


def empty_table(columns: Sequence[str]) -> pd.DataFrame:
    """A table with these columns and no row (a section that has nothing to show)."""
    return pd.DataFrame(columns=list(columns))


def _choose_input(params: WorkbookParams, wanted: str) -> str:
    if wanted == "auto":
        return "export" if params.source.experiment_export is not None else "assignments"
    if wanted == "export" and params.source.experiment_export is None:
        raise ConfigError(
            "ab_test.input is 'export' but source.experiment_export is not set; expected "
            "source.experiment_export with the export's path and columns, or input 'auto'"
        )
    if wanted == "assignments" and params.source.transactions is None:
        raise ConfigError(
            "ab_test.input is 'assignments' but source.transactions is not set (outcomes from "
            "assignments are counted on the orders); expected input 'auto' or 'export' with "
            "only source.experiment_export, or source.transactions and source.assignments"
        )
    return wanted


def experiment_input(params: WorkbookParams) -> str:
    """What 07_ab_test analyses with these params: ``"export"`` or ``"assignments"``.

    ``ab_test.input``, with ``auto`` resolved: the experiment export when
    ``source.experiment_export`` is set, else 01_ingest's assignments and orders. On an export
    the stage reads no earlier stage's artifact it cannot do without.

    Raises
    ------
    ConfigError
        ``ab_test.input`` names an input the sources do not have.
    """
    return _choose_input(params, params.ab_test.input)


@dataclass(frozen=True)
class _ExportRequest:
    """What 07_ab_test asks of an export: columns by role, and the params key asking each."""

    metrics: list[str]
    covariates: list[str]
    optional: list[str]
    origins: dict[str, str]


def _export_request(
    metrics: Sequence[str],
    *,
    guardrails: Sequence[str],
    cuped_covariates: Mapping[str, str],
    ratio_metrics: Mapping[str, tuple[str, str]],
) -> _ExportRequest:
    """Metrics and guardrails are required; so are the covariates of the metrics analysed;
    the parts of ratio metrics that are not metrics are read when present."""
    analysed = list(dict.fromkeys([*metrics, *guardrails]))
    origins = {name: "ab_test.guardrails" for name in guardrails}
    origins |= {name: "ab_test.metrics" for name in metrics}
    covariates = sorted({cuped_covariates[m] for m in analysed if m in cuped_covariates})
    for name in covariates:
        origins.setdefault(name, "ab_test.cuped_covariates")
    parts = [column for pair in ratio_metrics.values() for column in pair]
    optional = [name for name in dict.fromkeys(parts) if name not in analysed]
    for name in optional:
        origins.setdefault(name, "ab_test.ratio_metrics")
    return _ExportRequest(analysed, covariates, optional, origins)


def check_experiment_export(
    params: WorkbookParams, *, engine: Engine | None = None
) -> tuple[str, ...]:
    """Check ``source.experiment_export`` against ``params.ab_test`` before any notebook runs.

    Opens each export file's header only (no row is parsed) and checks that every column
    07_ab_test needs is there: the variant, each metric and guardrail, the CUPED covariate of
    each analysed metric, and every column mapped in ``source.experiment_export.columns``.
    Nothing is checked when ``ab_test.input`` resolves to the assignments.

    Returns
    -------
    tuple of str
        Sentences about absent optional columns (no id column: row numbers are the ids; no
        experiment_id: one experiment named after the file), as 07's page will say them.

    Raises
    ------
    SourceFileError
        A file is missing or unreadable, or a required column is absent: the message names the
        file, the column looked for, the params key that asks for it and the columns found.
    ConfigError
        ``ab_test.input`` does not fit the sources, or ``source.experiment_export.columns``
        has an unknown key.
    """
    ab = params.ab_test
    if _choose_input(params, ab.input) != "export":
        return ()
    source = params.source.required("experiment_export")
    request = _export_request(
        ab.metrics,
        guardrails=list(ab.guardrails),
        cuped_covariates=ab.cuped_covariates,
        ratio_metrics=ab.ratio_metrics,
    )
    owned = engine is None
    active = Engine(threads=1) if engine is None else engine
    try:
        return check_export_columns(
            source,
            params=params,
            engine=active,
            metrics=request.metrics,
            covariates=request.covariates,
            segments=list(ab.segments),
            optional=request.optional,
            origins=request.origins,
        )
    finally:
        if owned:
            active.close()


def register_inputs(run: RunFolder, engine: Engine, *, params: WorkbookParams) -> list[str]:
    """Expose 01_ingest's tables that 07_ab_test reads to ``engine``; return the names.

    The input is ``params.ab_test.input`` (:func:`experiment_input`). With the assignments
    input, ``transactions`` is required (StageInputMissing: run 01_ingest first) and
    ``customers``, ``events``, ``assignments`` are optional. With an export (``ab_test.input``
    export, or auto with ``source.experiment_export``) nothing is required: 07_ab_test then
    runs alone, and ``customers`` is used only when 01_ingest ran.

    Raises
    ------
    ConfigError
        ``ab_test.input`` names an input the sources do not have.
    """
    optional = ("customers", "events", "assignments")
    if experiment_input(params) == "export":
        return run.register(engine, "transactions", *optional, optional=True)
    return [*run.register(engine, "transactions"), *run.register(engine, *optional, optional=True)]


def _segment_columns(
    engine: Engine, segments: Sequence[str], notes: list[str]
) -> pd.DataFrame | None:
    """customer_id and the wanted segment columns of ``customers``, or None without any."""
    if not segments:
        return None
    if not engine.has_table("customers"):
        notes.append(
            f"no customers table: the effects are not broken down by {', '.join(segments)}"
        )
        return None
    present = engine.column_types("customers")
    missing = [column for column in segments if column not in present]
    if missing:
        notes.append(
            f"customers has no column {', '.join(missing)}: the effects are not broken down by it"
        )
    kept = [column for column in segments if column in present]
    if not kept:
        return None
    columns = ", ".join(f'CAST("{column}" AS VARCHAR) AS "{column}"' for column in kept)
    return engine.query(f"SELECT customer_id, {columns} FROM customers")


def _from_assignments(
    engine: Engine,
    *,
    as_of_date: dt.date | str,
    window_days: int,
    retention_days: int,
    pre_period_days: int,
    segments: Sequence[str],
    notes: list[str],
    min_cell_size: int,
) -> tuple[pd.DataFrame, dict[str, int]] | None:
    if not engine.has_table("assignments"):
        notes.append(
            "no assignments table: 01_ingest had no source.assignments and no experiment "
            "export is configured (source.experiment_export)"
        )
        return None
    outcomes = experiment_outcomes(
        engine,
        as_of_date=as_of_date,
        window_days=window_days,
        pre_period_days=pre_period_days,
        retention_days=retention_days,
        min_cell_size=min_cell_size,
    )
    notes.extend(outcomes.attrs.get("notes", []))
    excluded = dict(outcomes.attrs.get("excluded_multiple_variants", {}))
    segment_table = _segment_columns(engine, segments, notes)
    if segment_table is not None:
        outcomes = outcomes.merge(segment_table, on="customer_id", how="left", validate="m:1")
    return outcomes, excluded


def _metrics_per_experiment(
    table: pd.DataFrame, analysed: Sequence[str], *, notes: list[str], rule: SmallCells
) -> dict[str, tuple[str, ...]]:
    """Per experiment, the metrics with a value for every customer (the others noted).

    The notes count customers by the small-cell ``rule`` (:func:`part_of`).
    """
    present = [metric for metric in analysed if metric in table.columns]
    for metric in analysed:
        if metric not in table.columns:
            notes.append(f"metric '{metric}' is not in the experiment table: it is not analysed")
    if not present:
        return {}
    missing = table[present].isna().groupby(table["experiment_id"], sort=True).sum()
    sizes = table.groupby("experiment_id", sort=True).size()
    metrics: dict[str, tuple[str, ...]] = {}
    small = experiments_with_small_arms(table, rule)
    for experiment, counts in missing.iterrows():
        kept = tuple(metric for metric in present if counts[metric] == 0)
        for metric in present:
            if counts[metric]:
                lacking = part_of(
                    int(counts[metric]),
                    int(sizes[experiment]),
                    rule,
                    whole_shown=str(experiment) not in small,
                )
                notes.append(
                    f"experiment '{experiment}': '{metric}' is not analysed, {lacking} have no "
                    "value"
                )
        metrics[str(experiment)] = kept
    return metrics


def experiment_data(engine: Engine, *, params: WorkbookParams) -> ExperimentData:
    """The experiment table of 07_ab_test, from the assignments or from an export.

    Transforms the engine's ``assignments`` (with ``transactions``, ``events`` and
    ``customers`` for segments) or the files of ``params.source.experiment_export`` into
    one row per customer and experiment with the metric, covariate and segment columns.

    Parameters
    ----------
    engine : Engine
        With 01_ingest's artifacts registered (``transactions`` and, when present,
        ``customers``, ``events``, ``assignments``; :func:`register_inputs`).
    params : WorkbookParams
        The run's params. From the top level: ``as_of_date`` (last day of data, assignments
        input), ``source.experiment_export`` (and paths relative to the params file) and
        ``privacy.min_cell_size`` (the notes count customers by the small-cell rule). From
        the ``ab_test`` section (:class:`crmlib.config.AbTestParams`):

        - ``input``: ``"assignments"``, ``"export"``, or ``"auto"`` (the export when it is
          configured);
        - ``window_days``, ``retention_days``, ``pre_period_days``: outcome windows
          (assignments input; see :func:`experiment_outcomes`);
        - ``metrics``: outcome columns to analyse;
        - ``cuped_covariates``: metric -> pre-period covariate column;
        - ``ratio_metrics``: name -> (numerator, denominator);
        - ``segments``: segment columns (``customers`` columns, or export columns);
        - ``guardrails``: guardrail metric -> ``{margin, worse}``; the guardrails are
          analysed like metrics.

    Returns
    -------
    ExperimentData
        ``source`` "none" with an empty table when there is no experiment data.

    Raises
    ------
    ConfigError
        ``ab_test.input`` is "export" without ``source.experiment_export``.
    DataContractError, SourceFileError
        From the outcome query or the export reader (they name the file, column and row).
    """
    ab = params.ab_test
    metrics = list(ab.metrics)
    segments = list(ab.segments)
    chosen = experiment_input(params)
    covariates = dict(ab.cuped_covariates)
    ratios = {name: (str(pair[0]), str(pair[1])) for name, pair in ab.ratio_metrics.items()}
    guardrails = dict(ab.guardrails)
    analysed = list(dict.fromkeys([*metrics, *guardrails]))
    notes: list[str] = []
    rejects = empty_table(EXPORT_REJECT_COLUMNS)
    rows_read = 0
    excluded: dict[str, int] = {}
    if chosen == "export":
        source = params.source.required("experiment_export")
        request = _export_request(
            metrics, guardrails=list(guardrails), cuped_covariates=covariates, ratio_metrics=ratios
        )
        export = read_experiment_export(
            source,
            params=params,
            engine=engine,
            metrics=request.metrics,
            covariates=request.covariates,
            segments=segments,
            optional=request.optional,
            origins=request.origins,
        )
        table, rejects, rows_read = export.table, export.rejects, export.rows_read
        notes.extend(export.notes)
    else:
        found = _from_assignments(
            engine,
            as_of_date=params.as_of_date,
            window_days=ab.window_days,
            retention_days=ab.retention_days,
            pre_period_days=ab.pre_period_days,
            segments=segments,
            notes=notes,
            min_cell_size=params.privacy.min_cell_size,
        )
        if found is None:
            return ExperimentData("none", empty_table(_ID_COLUMNS), {}, {}, {}, (), tuple(notes))
        table, excluded = found
    per_experiment = _metrics_per_experiment(
        table, analysed, notes=notes, rule=SmallCells(params.privacy.min_cell_size)
    )
    kept_covariates = {
        metric: column
        for metric, column in covariates.items()
        if column in table.columns and metric in analysed
    }
    kept_ratios = {
        name: pair for name, pair in ratios.items() if all(column in table for column in pair)
    }
    for name in sorted(set(ratios) - set(kept_ratios)):
        notes.append(f"ratio metric '{name}' needs {' and '.join(ratios[name])}: not analysed")
    kept_segments = tuple(column for column in segments if column in table.columns)
    for note in notes:
        log.info("07_ab_test data: %s", note)
    return ExperimentData(
        chosen,
        table,
        per_experiment,
        kept_covariates,
        kept_ratios,
        kept_segments,
        tuple(notes),
        rejects,
        rows_read,
        excluded,
    )
