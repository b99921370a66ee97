"""What each stage reads from and writes to the run folder: the declarations the runner checks.

A stage reads only artifacts written by an earlier stage (or, declared as ``previous``, its
own artifacts as the last good run left them). :data:`STAGE_ARTIFACTS` says, per params
section, which artifacts a stage's notebook and the crmlib functions it calls with the run
folder read and write; ``tests/test_stage_artifacts.py`` holds the declarations to the code,
and the runner checks the order and, for ``--only``/``--from``, that the last good run holds
what the selected stages require (:func:`crmlib.runner.check_artifacts`).

An artifact is a table ``data/<name>.parquet`` or, when its name ends in ``.json``, a file at
the run folder's root (``quality.json``). ``metrics.json`` (one key per stage) and
``exports/`` (lists for CRM tools) are outputs, never read by another stage.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["StageArtifacts", "STAGE_ARTIFACTS", "artifact_writers", "artifact_file"]


@dataclass(frozen=True)
class StageArtifacts:
    """The run-folder artifacts of one stage.

    Attributes
    ----------
    notebook : str
        The stage's notebook, e.g. ``"04_segments"`` (named in messages).
    reads : tuple of str
        Required: the stage stops without them (``StageInputMissing``).
    optional : tuple of str
        Read when present; without them the stage says what it leaves out and goes on.
    writes : tuple of str
        Written by this stage (some only when their input exists, e.g. ``customers``).
    previous : tuple of str
        Its own artifacts as the last good run wrote them, read before they are rewritten.

    Examples
    --------
    >>> StageArtifacts("02_kpis", reads=("transactions",), writes=("kpis_by_period",)).inputs
    ('transactions',)
    """

    notebook: str
    reads: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()
    writes: tuple[str, ...] = ()
    previous: tuple[str, ...] = ()

    @property
    def inputs(self) -> tuple[str, ...]:
        """Every artifact of another stage it reads: ``reads`` then ``optional``."""
        return (*self.reads, *self.optional)


#: Per params section (the stage), what it reads and writes, in the notebooks' order.
STAGE_ARTIFACTS: Mapping[str, StageArtifacts] = {
    "ingest": StageArtifacts(
        "01_ingest",
        writes=(
            "transactions",
            "unattributed",
            "customers",
            "events",
            "assignments",
            "surveys",
            "marketing_spend",
            "rejects",
            "daily_orders",
            "customer_days",  # the shared purchase facts (crmlib.facts)
            "customer_facts",
            "quality.json",
        ),
    ),
    "kpis": StageArtifacts(
        "02_kpis",
        reads=("transactions",),
        optional=("customers", "events", "unattributed", "surveys"),
        writes=("kpis_by_period", "contactable_base", "channel_engagement"),
    ),
    "cohorts": StageArtifacts(
        "03_cohorts",
        reads=("transactions", "customer_days", "customer_facts"),
        optional=("customers",),
        writes=("cohort_retention", "cohort_revenue", "lifecycle"),
    ),
    "segments": StageArtifacts(
        "04_segments",
        reads=("transactions", "customer_days", "customer_facts"),
        optional=("customers", "events", "surveys"),
        writes=("rfm", "segment_summary", "segment_migration", "clusters", "affinities"),
        previous=("rfm",),  # the baseline of "entered the segment"
    ),
    "clv": StageArtifacts(
        "05_clv",
        reads=("transactions", "customer_days", "customer_facts"),
        # rfm: CLV by segment; kpis_by_period: cost per retained customer; surveys: CLV by NPS
        optional=("customers", "rfm", "kpis_by_period", "marketing_spend", "surveys"),
        writes=("clv",),
    ),
    "churn": StageArtifacts(
        "06_churn",
        reads=("transactions", "customer_days", "customer_facts"),
        optional=("customers", "events", "rfm", "clv"),
        writes=("churn_scores", "churn_by_segment"),
    ),
    # On an experiment export (ab_test.input export, or auto with source.experiment_export)
    # 07 requires nothing: crmlib.runner.required_artifacts.
    "ab_test": StageArtifacts(
        "07_ab_test",
        reads=("transactions",),
        optional=("customers", "events", "assignments", "clv"),
        writes=("ab_results", "ab_export_rejects"),
    ),
}


def artifact_writers(
    declarations: Mapping[str, StageArtifacts] = STAGE_ARTIFACTS,
) -> dict[str, str]:
    """Artifact -> the section of the stage that writes it (the first, if two declare it).

    Examples
    --------
    >>> artifact_writers()["clv"], artifact_writers()["quality.json"]
    ('clv', 'ingest')
    """
    writers: dict[str, str] = {}
    for section, declared in declarations.items():
        for name in declared.writes:
            writers.setdefault(name, section)
    return writers


def artifact_file(name: str) -> str:
    """Where artifact ``name`` lives, relative to the run folder.

    Examples
    --------
    >>> artifact_file("rfm"), artifact_file("quality.json")
    ('data/rfm.parquet', 'quality.json')
    """
    return name if name.endswith(".json") else f"data/{name}.parquet"
