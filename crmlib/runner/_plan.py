"""Which notebooks a run can execute with the inputs its params name, checked before any runs."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

from crmlib.config import WorkbookParams, section_for_notebook

__all__ = ["STAGE_INPUTS", "plan_stages", "check_inputs"]

log = logging.getLogger(__name__)

#: Per stage, the source tables any one of which lets it run. Every stage but 07 reads the
#: orders (through 01_ingest); 07 reads either 01_ingest's assignments or an experiment export.
STAGE_INPUTS: Mapping[str, tuple[str, ...]] = {
    "ingest": ("transactions",),
    "kpis": ("transactions",),
    "cohorts": ("transactions",),
    "segments": ("transactions",),
    "clv": ("transactions",),
    "churn": ("transactions",),
    "ab_test": ("transactions", "experiment_export"),
}

_WHAT: Mapping[str, str] = {
    "transactions": "a transactions table (source.transactions)",
    "customers": "a customers table (source.customers)",
    "events": "an events table (source.events)",
    "assignments": "an assignments table (source.assignments)",
    "experiment_export": "an experiment export (source.experiment_export)",
}


def _numbers(stems: Sequence[str]) -> str:
    """'01–06' for consecutive notebooks, '02, 04 and 05' otherwise, '03' for one."""
    numbers = [stem.partition("_")[0] for stem in stems]
    values = [int(number) for number in numbers if number.isdigit()]
    if (
        len(numbers) > 2
        and len(values) == len(numbers)
        and values == list(range(values[0], values[0] + len(values)))
    ):
        return f"{numbers[0]}–{numbers[-1]}"
    return numbers[0] if len(numbers) == 1 else f"{', '.join(numbers[:-1])} and {numbers[-1]}"


def plan_stages(params: WorkbookParams, notebooks: Sequence[Path]) -> dict[str, str | None]:
    """For each notebook, None when its inputs are configured, else why it is skipped.

    A stage runs when at least one of its :data:`STAGE_INPUTS` is set in ``params.source``.
    The stages skipped for the same reason share one sentence, e.g. "01–06 need a
    transactions table (source.transactions); this run has only an experiment export
    (source.experiment_export)", which ``run.json`` records and the front page shows.

    Parameters
    ----------
    params : WorkbookParams
        The run's params.
    notebooks : sequence of Path
        The workbook's numbered notebooks, in order.

    Returns
    -------
    dict
        Notebook stem -> None (runs) or the skip sentence; in the notebooks' order.
    """
    configured = [
        table for table in type(params.source).model_fields if getattr(params.source, table)
    ]
    missing: dict[tuple[str, ...], list[str]] = {}
    plan: dict[str, str | None] = {}
    for path in notebooks:
        inputs = STAGE_INPUTS.get(section_for_notebook(path.name), ())
        if not inputs or any(table in configured for table in inputs):
            plan[path.stem] = None
        else:
            missing.setdefault(inputs, []).append(path.stem)
    have = " and ".join(_WHAT.get(table, f"source.{table}") for table in configured)
    for inputs, stems in missing.items():
        needed = " or ".join(_WHAT.get(table, f"source.{table}") for table in inputs)
        verb = "needs" if len(stems) == 1 else "need"
        sentence = f"{_numbers(stems)} {verb} {needed}; this run has only {have}."
        for stem in stems:
            plan[stem] = sentence
    return {path.stem: plan[path.stem] for path in notebooks}


def check_inputs(params: WorkbookParams, stems: Sequence[str]) -> tuple[str, ...]:
    """Check, before any notebook runs, the inputs the notebooks ``stems`` will read.

    Today: when 07_ab_test is to run on an experiment export, every export file's header
    against ``source.experiment_export`` and the ``ab_test`` section
    (:func:`crmlib.experiments.check_experiment_export`), in a fraction of a second.

    Returns
    -------
    tuple of str
        Sentences about the inputs (e.g. an export without an id column: row numbers are the
        ids), logged; the notebook says them on its page.

    Raises
    ------
    SourceFileError
        An export file is missing or unreadable, or a column the params ask for is not in it
        (the message names the file, the column and the params key).
    ConfigError
        The ``ab_test`` input does not fit the sources, or a mapping key is unknown.
    """
    notes: list[str] = []
    if any(section_for_notebook(f"{stem}.ipynb") == "ab_test" for stem in stems):
        from crmlib.experiments import check_experiment_export

        notes.extend(check_experiment_export(params))
    for note in notes:
        log.info("inputs: %s", note)
    return tuple(notes)
