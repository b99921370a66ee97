"""Which notebooks a run can execute with the inputs its params name, checked before any runs.

Also the order of the stages' artifacts (:data:`crmlib.stages.STAGE_ARTIFACTS`): a stage reads
only what an earlier stage writes, and a partial run finds what it requires in the last good run.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

from crmlib.config import WorkbookParams, section_for_notebook
from crmlib.errors import RunSetupError, StageInputMissing
from crmlib.formatting import listed
from crmlib.stages import STAGE_ARTIFACTS, StageArtifacts, artifact_file, artifact_writers

__all__ = [
    "STAGE_INPUTS",
    "plan_stages",
    "check_inputs",
    "check_stage_order",
    "required_artifacts",
    "check_artifacts",
]

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

    Raises
    ------
    RunSetupError
        A stage reads an artifact of a later stage (:func:`check_stage_order`).
    """
    sections = {path.stem: section_for_notebook(path.name) for path in notebooks}
    check_stage_order(
        list(sections.values()), notebooks={section: stem for stem, section in sections.items()}
    )
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


def _stage_name(
    section: str, declarations: Mapping[str, StageArtifacts], notebooks: Mapping[str, str]
) -> str:
    """The notebook that runs ``section`` (the workbook's, else the declared one)."""
    if section in notebooks:
        return notebooks[section]
    return declarations[section].notebook if section in declarations else section


def check_stage_order(
    order: Sequence[str],
    declarations: Mapping[str, StageArtifacts] | None = None,
    *,
    notebooks: Mapping[str, str] | None = None,
) -> None:
    """Refuse declarations in which a stage reads what a later stage (or no stage) writes.

    Every artifact a stage of ``order`` reads, required or optional, must be written by an
    earlier stage of ``order`` (01_ingest's source tables are read by every later stage); a
    writer whose notebook is not in the workbook is left to :func:`check_artifacts`. An
    artifact has one writer, and a stage's ``previous`` artifacts are its own.

    Parameters
    ----------
    order : sequence of str
        The params sections of the workbook's notebooks, in the order they run.
    declarations : mapping, optional
        Section -> :class:`crmlib.stages.StageArtifacts`; default :data:`~crmlib.stages.STAGE_ARTIFACTS`.
    notebooks : mapping, optional
        Section -> the workbook's notebook stem, for the messages (default: the declared ones).

    Raises
    ------
    RunSetupError
        Naming the reading stage, the artifact and the stage that writes it, e.g. "04_segments
        reads artifact 'clv', which 05_clv writes after it".

    Examples
    --------
    >>> from crmlib.stages import StageArtifacts
    >>> check_stage_order(["kpis", "cohorts"], {
    ...     "kpis": StageArtifacts("02_kpis", optional=("lifecycle",)),
    ...     "cohorts": StageArtifacts("03_cohorts", writes=("lifecycle",))})
    Traceback (most recent call last):
    ...
    crmlib.errors.RunSetupError: stage order: 02_kpis reads artifact 'lifecycle', which 03_cohorts writes after it; a stage reads only artifacts of earlier stages (declared in crmlib.stages.STAGE_ARTIFACTS)
    """
    declarations = STAGE_ARTIFACTS if declarations is None else declarations
    names = dict(notebooks or {})

    def name(section: str) -> str:
        return _stage_name(section, declarations, names)

    problems: list[str] = []
    writers: dict[str, str] = {}
    for section, declared in declarations.items():
        for artifact in declared.writes:
            first = writers.setdefault(artifact, section)
            if first != section:
                problems.append(
                    f"artifact '{artifact}' is written by both {name(first)} and {name(section)}; "
                    "one stage writes each artifact"
                )
    position = {section: index for index, section in enumerate(order)}
    for section in order:
        stage = declarations.get(section)
        if stage is None:
            continue
        for artifact in stage.inputs:
            writer = writers.get(artifact)
            if writer is None:
                problems.append(
                    f"{name(section)} reads artifact '{artifact}', which no stage writes"
                )
            elif writer == section:
                problems.append(
                    f"{name(section)} reads artifact '{artifact}', which it writes itself; its "
                    "own artifact as the last good run left it is declared as previous"
                )
            elif writer in position and position[writer] > position[section]:
                problems.append(
                    f"{name(section)} reads artifact '{artifact}', which {name(writer)} writes "
                    "after it; a stage reads only artifacts of earlier stages"
                )
        for artifact in stage.previous:
            if artifact not in stage.writes:
                problems.append(
                    f"{name(section)} reads the last good run's '{artifact}', which it does not "
                    "write; only a stage's own artifacts are declared as previous"
                )
    if problems:
        raise RunSetupError(
            f"stage order: {'; '.join(problems)} (declared in crmlib.stages.STAGE_ARTIFACTS)"
        )


def required_artifacts(
    params: WorkbookParams,
    section: str,
    declarations: Mapping[str, StageArtifacts] | None = None,
) -> tuple[str, ...]:
    """The artifacts stage ``section`` cannot run without, with these params.

    Its declared ``reads``; none for 07_ab_test on an experiment export
    (:func:`crmlib.experiments.experiment_input`), which then needs no earlier stage.
    """
    declared = (STAGE_ARTIFACTS if declarations is None else declarations).get(section)
    if declared is None:
        return ()
    if section == "ab_test" and declared.reads:
        from crmlib.experiments import experiment_input

        if experiment_input(params) == "export":
            return ()
    return declared.reads


def check_artifacts(
    params: WorkbookParams,
    notebooks: Sequence[Path],
    to_run: Sequence[str],
    *,
    reuse: Path | None = None,
    flag: str = "",
    declarations: Mapping[str, StageArtifacts] | None = None,
) -> None:
    """Check, before any notebook runs, that every artifact the stages to run require is there.

    An artifact a stage requires (:func:`required_artifacts`) is there when its writer runs
    earlier in this run or, in a partial run (``--only``/``--from``), when the last good run
    that the run starts from (``reuse``) holds it. Optional artifacts are not checked.

    Parameters
    ----------
    params : WorkbookParams
    notebooks : sequence of Path
        The workbook's numbered notebooks, in order.
    to_run : sequence of str
        The stems of the notebooks this run executes.
    reuse : Path, optional
        The last good run a partial run copies (``outputs/<run_name>``); None for a full run.
    flag : str
        How the partial run was asked for (``"--only 04_segments"``), for the message.
    declarations : mapping, optional
        Default :data:`crmlib.stages.STAGE_ARTIFACTS`.

    Raises
    ------
    StageInputMissing
        A partial run: the last good run lacks a required artifact that no selected stage
        writes (the message names the artifact, its file, the stage needing it and its writer).
    RunSetupError
        A full run: a required artifact's writer does not run (skipped on these params, or not
        in the workbook).
    """
    declarations = STAGE_ARTIFACTS if declarations is None else declarations
    sections = {path.stem: section_for_notebook(path.name) for path in notebooks}
    stems = {section: stem for stem, section in sections.items()}
    position = {stem: index for index, stem in enumerate(sections)}
    writers = artifact_writers(declarations)
    missing: list[tuple[str, str, str, str | None]] = []  # stage, artifact, writer, its stem
    for stem in to_run:
        for artifact in required_artifacts(params, sections[stem], declarations):
            section = writers.get(artifact)
            writer = _stage_name(section, declarations, stems) if section else "no stage"
            written_here = stems.get(section or "")
            if (
                written_here is not None
                and written_here in to_run
                and position[written_here] < position[stem]
            ):
                continue
            if reuse is not None and (reuse / artifact_file(artifact)).is_file():
                continue
            missing.append((stem, artifact, writer, written_here))
    if not missing:
        return
    groups: dict[tuple[str, str, str | None], list[str]] = {}  # one phrase per stage and writer
    for stem, artifact, writer, written in missing:
        groups.setdefault((stem, writer, written), []).append(artifact)

    def required(stem: str, artifacts: list[str], *, files: bool) -> str:
        named = [f"'{a}'" + (f" ({artifact_file(a)})" if files else "") for a in artifacts]
        return f"{stem} requires artifact{'s' if len(named) > 1 else ''} {listed(named)}"

    if reuse is not None:
        found = "; ".join(
            f"{required(stem, artifacts, files=True)}, which {writer} writes"
            for (stem, writer, _), artifacts in groups.items()
        )
        earliest = min(
            (written for *_, written in missing if written is not None),
            key=position.__getitem__,
            default=None,
        )
        rerun = f", or rerun from {earliest} (--from {earliest})" if earliest else ""
        raise StageInputMissing(
            f"{flag} reuses the artifacts of the last good run {reuse}, but it lacks what the "
            f"selected notebooks require: {found}. Run the whole workbook first{rerun}"
        )
    raise RunSetupError(
        "cannot run: "
        + "; ".join(
            f"{required(stem, artifacts, files=False)}, which {writer} writes"
            + (
                ""
                if writer == "no stage"
                else f", but {writer} does not run on this params file"
                if written is not None
                else f", but the workbook has no {writer} notebook"
            )
            for (stem, writer, written), artifacts in groups.items()
        )
    )
