"""Params files: pydantic models that validate `params/*.yaml` once, naming the key and the file."""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from numbers import Integral
from pathlib import Path
from typing import Any, ClassVar, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from crmlib.errors import ConfigError
from crmlib.privacy import MIN_CELL_SIZE

__all__ = [
    "TableSource",
    "DEFAULT_NULL_VALUES",
    "PostgresSource",
    "SourceConfig",
    "EngineConfig",
    "RunnerParams",
    "PrivacyParams",
    "IngestParams",
    "KpisParams",
    "CohortsParams",
    "SegmentsParams",
    "SegmentRuleParams",
    "CampaignParams",
    "ClvParams",
    "ChurnParams",
    "GuardrailParams",
    "AbTestParams",
    "WorkbookParams",
    "STAGE_SECTIONS",
    "COMMON_KEYS",
    "StageParams",
    "DEFAULT_SEED",
    "SectionDefaults",
    "DEFAULTS",
    "load_params",
    "load_stage_params",
    "section_for_notebook",
]

log = logging.getLogger(__name__)

Period = Literal["week", "month", "quarter"]
RefundRule = Literal["negative_amount", "negative_quantity", "order_id_pattern"]


#: Field values read as empty by default: the usual null spellings of exports (applied to ids too).
DEFAULT_NULL_VALUES: tuple[str, ...] = ("", "NA", "N/A", "null", "NULL", "None")


def _default_refund_rules() -> list[RefundRule]:
    return ["negative_amount", "negative_quantity"]


class _Strict(BaseModel):
    """Base of every params model: unknown keys are errors, values are checked on assignment."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class PostgresSource(_Strict):
    """A PostgreSQL table or query as a source table, read with ADBC in Arrow batches.

    The connection string (``postgresql://user:password@host:port/database``) is read from the
    environment variable ``dsn_env`` only, so that no credential is ever written to the params
    file, ``run.json``, a notebook, a log or a page. ``source_row`` is the row's position in
    the result: give a ``query`` with ORDER BY for row numbers that are stable across runs.
    """

    dsn_env: str = Field(
        default="PG_DSN",
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="name of the environment variable holding the connection string",
    )
    table: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)?$",
        description="table or view to read whole, optionally schema-qualified (sales.orders)",
    )
    query: str | None = Field(default=None, description="a SELECT whose rows are the table")
    batch_size_hint_bytes: int = Field(
        default=16 * 2**20, ge=2**16, description="size of the Arrow batches read (memory bound)"
    )

    @model_validator(mode="after")
    def _table_or_query(self) -> PostgresSource:
        if (self.table is None) == (self.query is None):
            raise ValueError(
                "set exactly one of table (a table or view name) and query (a SELECT statement)"
            )
        return self

    def sql(self) -> str:
        """The statement sent to the server."""
        if self.query is not None:
            return self.query
        assert self.table is not None
        return "SELECT * FROM " + ".".join(f'"{part}"' for part in self.table.split("."))

    def label(self) -> str:
        """How messages and ``quality.json`` name this source (never the connection string)."""
        return f"postgres table {self.table}" if self.table is not None else "postgres query"


class TableSource(_Strict):
    """Where one contract table comes from and how to read it: files, or a PostgreSQL table."""

    path: str | list[str] | None = Field(
        default=None, description="file, glob, or list of them; relative to the params file"
    )
    postgres: PostgresSource | None = Field(
        default=None, description="read from PostgreSQL instead of files (crmlib.ingest.postgres)"
    )
    format: Literal["auto", "csv", "parquet"] = "auto"
    columns: dict[str, str] = Field(
        default_factory=dict, description="contract column -> column name in the source"
    )
    delimiter: str = ","
    decimal_separator: Literal[".", ","] = "."
    encoding: Literal["utf-8", "latin-1", "utf-16"] = "utf-8"
    timestamp_format: str | None = Field(
        default=None,
        description="strptime format of timestamps, e.g. '%d/%m/%Y %H:%M'; None = ISO 8601",
    )
    true_values: list[str] = Field(default_factory=lambda: ["true", "t", "1", "yes", "y"])
    false_values: list[str] = Field(default_factory=lambda: ["false", "f", "0", "no", "n"])
    line_items: bool = Field(
        default=False, description="one row per order line; lines are summed per order by ingest"
    )
    unit_price_column: str | None = Field(
        default=None, description="line items only: amount = quantity x this column"
    )
    null_values: list[str] = Field(
        default_factory=lambda: list(DEFAULT_NULL_VALUES),
        description="field values read as empty (ids included): a customer id 'NA' is no id",
    )
    thousands_separator: Literal[",", ".", " ", "'", "_"] | None = Field(
        default=None,
        description="grouping character of numbers ('1,234.50' with ','); None = no grouping",
    )

    @field_validator("delimiter")
    @classmethod
    def _one_char(cls, value: str) -> str:
        if len(value) != 1 and value != "\\t":
            raise ValueError(f"delimiter must be one character, got {value!r}")
        return "\t" if value == "\\t" else value

    @field_validator("timestamp_format")
    @classmethod
    def _has_directive(cls, value: str | None) -> str | None:
        if value is not None and "%" not in value:
            raise ValueError(f"timestamp_format {value!r} has no strptime directive such as %Y")
        return value

    @model_validator(mode="after")
    def _path_or_postgres(self) -> TableSource:
        if (self.path is None) == (self.postgres is None):
            raise ValueError(
                "set exactly one of path (files) and postgres (a table or query read from "
                "PostgreSQL)"
            )
        return self

    @model_validator(mode="after")
    def _separators_differ(self) -> TableSource:
        if (
            self.thousands_separator is not None
            and self.thousands_separator == self.decimal_separator
        ):
            raise ValueError(
                f"thousands_separator {self.thousands_separator!r} equals decimal_separator; "
                "expected two different characters (e.g. ',' and '.')"
            )
        return self

    def paths(self) -> list[str]:
        """The path patterns as a list (empty for a PostgreSQL source)."""
        if self.path is None:
            return []
        return [self.path] if isinstance(self.path, str) else list(self.path)


class SourceConfig(_Strict):
    """The user's files, mapped to the contract tables (and an experiment export).

    Optional tables besides customers, events and assignments: ``surveys`` (NPS and CSAT
    responses) and ``marketing_spend`` (spend per day and acquisition channel).

    ``transactions`` is required unless ``experiment_export`` is given: a params file with only
    an experiment export runs 07_ab_test alone (the runner skips the stages that need orders).
    """

    transactions: TableSource | None = Field(
        default=None,
        description="orders (required, unless only experiment_export is given: then only "
        "07_ab_test runs)",
    )
    customers: TableSource | None = None
    events: TableSource | None = None
    assignments: TableSource | None = None
    surveys: TableSource | None = Field(
        default=None,
        description="survey responses: customer_id, response_ts, survey (nps | csat), score "
        "(NPS 0-10, CSAT 1-5)",
    )
    marketing_spend: TableSource | None = Field(
        default=None,
        description="marketing spend: date, acquisition_channel, spend (run currency), "
        "optional campaign",
    )
    experiment_export: TableSource | None = Field(
        default=None,
        description="per-customer experiment outcomes from an experimentation platform "
        "(read by 07_ab_test; columns maps customer_id, experiment_id, variant and every "
        "metric, covariate and segment name of the ab_test section to the file's columns)",
    )

    @model_validator(mode="after")
    def _export_is_files(self) -> SourceConfig:
        if self.experiment_export is not None and self.experiment_export.postgres is not None:
            raise ValueError(
                "source.experiment_export is read from files only (csv or parquet); expected "
                "path: export it from the database, or read its rows as source.assignments"
            )
        return self

    @model_validator(mode="after")
    def _orders_or_export(self) -> SourceConfig:
        if self.transactions is None:
            if self.experiment_export is None:
                raise ValueError(
                    "neither transactions nor experiment_export is set; expected "
                    "source.transactions (the orders every stage reads) or, to analyse an "
                    "experiment alone, source.experiment_export"
                )
            tables = [
                t
                for t in ("customers", "events", "assignments", "surveys", "marketing_spend")
                if getattr(self, t)
            ]
            if tables:
                raise ValueError(
                    f"{', '.join(tables)} set without transactions; expected source.transactions "
                    f"as well (01_ingest reads {', '.join(tables)} with the orders), or only "
                    "source.experiment_export"
                )
        return self

    def required(self, table: str) -> TableSource:
        """``source.<table>``, or a ConfigError saying it is not set (e.g. an export-only file)."""
        source = getattr(self, table, None)
        if not isinstance(source, TableSource):
            raise ConfigError(
                f"source.{table} is not set; expected it in the params file "
                + (
                    "(this params file has only source.experiment_export: only 07_ab_test runs on it)"
                    if self.experiment_export is not None and self.transactions is None
                    else f"(the {table} file and its columns)"
                )
            )
        return source


class EngineConfig(_Strict):
    """The SQL engine: the embedded DuckDB (default) or Apache Spark (crmlib.spark_engine).

    ``driver_max_rows`` bounds what the Python side takes on: the models fitted on the
    driver (05's BTYD and Gamma-Gamma, 06's churn classifiers, 04's k-means) receive at most
    that many customers through :func:`crmlib.sampling.fit_sample`, the page says so, and
    every customer is still scored.
    """

    name: Literal["duckdb", "spark"] = "duckdb"
    master: str = Field(
        default="local[2]",
        description="spark only: local[N], spark://host:7077, yarn, k8s://..., or sc://host (Spark Connect)",
    )
    conf: dict[str, str] = Field(
        default_factory=dict, description="spark only: Spark settings, e.g. spark.executor.memory"
    )
    memory_limit: str = Field(
        default="2.5GB", pattern=r"^\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$"
    )
    threads: int | None = Field(default=None, ge=1, description="None = all cores")
    temp_directory: str | None = Field(
        default=None,
        description="duckdb: where work larger than memory_limit spills; spark: where the tables "
        "statements create are written (on a cluster, storage every executor reaches: hdfs://, "
        "s3a://); null: a local temporary folder",
    )
    driver_max_rows: int | None = Field(
        default=None,
        ge=1_000,
        description="models fitted on the driver (BTYD, churn, clustering) use a random sample "
        "of at most this many customers, and the page says so; null: all. Every customer is "
        "still scored",
    )


class RunnerParams(_Strict):
    """How the runner executes the notebooks: time limits (seconds), and the history it keeps."""

    cell_timeout_s: int | None = Field(
        default=3600,
        ge=1,
        description="a cell running longer fails its notebook, named (null: no limit); "
        "the CLI's --cell-timeout overrides it",
    )
    notebook_timeout_s: int | None = Field(
        default=None,
        ge=1,
        description="a notebook running longer fails at the cell it reached (null: no limit)",
    )
    keep_runs: int = Field(
        default=12,
        ge=1,
        description="good runs kept, this one included: the replaced runs move to "
        "outputs/<run_name>.history/ (without the order-level tables) so that the next report "
        "can say what changed since the last; 1: no history",
    )


class PrivacyParams(_Strict):
    """Section `privacy`: the small-cell rule of every page (:mod:`crmlib.privacy`)."""

    min_cell_size: int = Field(
        default=MIN_CELL_SIZE,
        ge=1,
        description="no count, rate or chart describes a group of fewer customers: counts "
        "read '<N', groups are pooled into (other), rates are not shown",
    )


#: Sections that had their own ``min_cell_size`` before ``privacy.min_cell_size`` replaced them.
RETIRED_MIN_CELL_SECTIONS: tuple[str, ...] = ("cohorts", "segments", "clv", "churn", "ab_test")
#: Sections that had their own ``seed`` before the top-level ``seed`` replaced them.
RETIRED_SEED_SECTIONS: tuple[str, ...] = ("segments", "clv", "churn")
#: The seed of every random draw of a run (control groups, clustering, bootstraps, splits).
DEFAULT_SEED = 20251231


class IngestParams(_Strict):
    """Section `ingest`: validation bounds, refund rules, what a purchase is, the verdict."""

    amount_min: float | None = Field(
        default=None, description="orders (lines summed) below this are rejected; None = no bound"
    )
    amount_max: float | None = Field(
        default=None, description="orders (lines summed) above this are rejected; None = no bound"
    )
    refund_when: list[RefundRule] = Field(default_factory=_default_refund_rules)
    refund_order_id_pattern: str | None = Field(
        default=None,
        description="regex marking refund rows by order id; its first group, if any, is the original order id",
    )
    zero_value_orders: Literal["purchase", "ignore"] = Field(
        default="purchase",
        description="an order of positive quantity and zero value (free item, 100% coupon): a purchase "
        "with 0 revenue, or not a purchase",
    )
    order_time_tolerance_minutes: float = Field(
        default=5.0,
        ge=0,
        description="line items: lines of one order id this close in time are one order (at the earliest)",
    )
    run_date: dt.date | None = Field(
        default=None,
        description="the day the run happens (None: today, UTC); rows dated after it are future_timestamp "
        "rejects, rows after as_of_date but not after it are outside the report window",
    )
    reject_share_warn: float = Field(default=0.01, ge=0, le=1)
    reject_share_fail: float = Field(default=0.05, ge=0, le=1)
    unattributed_share_warn: float = Field(
        default=0.30,
        ge=0,
        le=1,
        description="verdict 'warn' above this share of transaction rows without a customer id",
    )

    @model_validator(mode="after")
    def _bounds_ordered(self) -> IngestParams:
        if (
            self.amount_min is not None
            and self.amount_max is not None
            and self.amount_min > self.amount_max
        ):
            raise ValueError(
                f"amount_min {self.amount_min} is above amount_max {self.amount_max}; expected min <= max"
            )
        return self

    @field_validator("refund_order_id_pattern")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a valid regular expression: {exc}") from exc
        return value


class KpisParams(_Strict):
    """Section `kpis`: the reporting period and the engagement windows."""

    period: Period = "month"
    conversion_window_days: int = Field(default=7, ge=1, le=90)
    periods_shown: int = Field(default=24, ge=2)
    mix_dimension: str = Field(
        default="acquisition_channel",
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="the customers column (acquisition_channel, region, loyalty_tier) whose "
        "groups the change of retention and of revenue per active customer is split by "
        "(rate effect and mix effect)",
    )


def _default_brackets() -> list[tuple[int, int]]:
    return [(1, 7), (8, 30), (31, 90), (91, 180)]


class CohortsParams(_Strict):
    """Section `cohorts` (03_cohorts): cohort grain, splits, brackets, privacy and trend settings."""

    period: Period = "month"
    cohort_basis: Literal["first_order", "signup"] = "first_order"
    dimensions: list[str] = Field(
        default_factory=lambda: ["acquisition_channel", "first_category"],
        description="customer columns (or first_category) each matrix is split by",
    )
    brackets: list[tuple[int, int]] = Field(
        default_factory=_default_brackets,
        description="rolling-clock day ranges after the first order, inclusive",
    )
    trend_periods: list[int] = Field(
        default_factory=lambda: [3, 6], description="k of the trend test and the channel gap"
    )
    cohorts_shown: int = Field(default=24, ge=2, description="cohorts in the heatmaps")
    km_max_days: int = Field(default=180, ge=30, description="days shown in time-to-second-order")
    first_cohort: Literal["auto", "new_customers", "present_at_start"] = Field(
        default="auto",
        description="whether the first cohort is new customers or the customers present when "
        "the data begin (left-censored); auto: decided from signup dates, else present_at_start",
    )

    @field_validator("brackets")
    @classmethod
    def _ordered(cls, value: list[tuple[int, int]]) -> list[tuple[int, int]]:
        for low, high in value:
            if not 0 < low <= high:
                raise ValueError(f"bracket ({low}, {high}): expected 0 < first day <= last day")
        return value


class SegmentRuleParams(_Strict):
    """One named segment: inclusive score ranges of recency, frequency and (optionally) monetary.

    The one validator of a segment rule, whether it comes from ``segments.rules`` of the params
    file, a mapping or code (:class:`crmlib.segments.models.rules.SegmentRule` is checked by
    it). A range is ``[low, high]`` with 1 <= low <= high, a single integer means that one
    score, and null means any score; ``r`` and ``f`` must be given (null allowed), ``m`` may be
    left out. Whether the rules cover the score grid of ``bins`` is checked by
    :func:`crmlib.segments.models.rules.validate_rules`.

    Examples
    --------
    >>> SegmentRuleParams(name="New", r=5, f=[1, 1])
    SegmentRuleParams(name='New', r=(5, 5), f=(1, 1), m=None)
    """

    #: Label of customers new since the earlier date of a segment migration: no rule may use it.
    RESERVED_NAME: ClassVar[str] = "(new)"

    name: str = Field(description="segment name, unique in the rule table")
    r: tuple[int, int] | None = Field(description="recency scores [low, high]; null: any")
    f: tuple[int, int] | None = Field(description="frequency scores [low, high]; null: any")
    m: tuple[int, int] | None = Field(
        default=None, description="monetary scores [low, high]; null: any"
    )

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the segment name is blank; expected a non-empty name")
        if value == cls.RESERVED_NAME:
            raise ValueError(
                f"{value!r} is reserved for customers new since the earlier date of a "
                "migration; choose another name"
            )
        return value

    @field_validator("r", "f", "m", mode="before")
    @classmethod
    def _one_score(cls, value: Any) -> Any:
        """A single integer is that one score; scores are whole numbers (not true/false)."""

        def score(item: Any) -> bool:
            return isinstance(item, Integral) and not isinstance(item, bool)

        if value is None:
            return None
        if score(value):
            return (int(value), int(value))
        if isinstance(value, (list, tuple)) and all(score(item) for item in value):
            return tuple(int(item) for item in value)
        raise ValueError(
            "not a score range; expected [low, high] (two whole numbers), one whole number or "
            "null (any score)"
        )

    @field_validator("r", "f", "m")
    @classmethod
    def _ordered(cls, value: tuple[int, int] | None) -> tuple[int, int] | None:
        if value is not None and not 1 <= value[0] <= value[1]:
            raise ValueError(
                f"score range [{value[0]}, {value[1]}] is empty or below 1; expected "
                "[low, high] with 1 <= low <= high"
            )
        return value

    @classmethod
    def validated(cls, settings: Any, *, label: str) -> SegmentRuleParams:
        """``settings`` (a mapping of the fields) as a rule; a ValueError naming ``label``
        (e.g. ``"segment rule 'Loyal'"``) and each bad key otherwise."""
        try:
            return cls.model_validate(settings)
        except ValidationError as exc:
            raise ValueError(_format_errors(label, exc)) from None

    @staticmethod
    def check_unique_names(names: Iterable[str]) -> None:
        """Raise a ValueError naming the first segment name listed twice, and where."""
        seen: dict[str, int] = {}
        for position, name in enumerate(names, start=1):
            if name in seen:
                raise ValueError(
                    f"segment rule {name!r} is listed twice (rules #{seen[name]} and "
                    f"#{position}); segment names must be unique"
                )
            seen[name] = position


class CampaignParams(_Strict):
    """One activation campaign: who to target, on which channel, with which suppression rules.

    The one validator of a campaign: ``segments.campaigns`` of the params file is a list of
    these, and :class:`crmlib.activation.Campaign` is this model (04_segments, 06_churn and code
    build campaigns through it). Frozen: a campaign does not change once checked. Whether its
    target labels exist is checked against the data by
    :func:`crmlib.activation.check_campaigns`.

    Parameters
    ----------
    name : str
        A slug (letters, digits, ``-``, ``_``; up to 64 characters, starting with a letter or a
        digit): it names ``exports/<name>.csv``.
    segments : tuple of str
        Target labels (values of ``label_column`` in the members frame); at least one, none
        blank or repeated. A single string is taken as one label.
    channel : {"email", "sms", "push"}
        Consent, unsubscribes and the frequency cap are checked on this channel.
    trigger : {"entered", "in_segment"}, default "entered"
        ``entered``: only members who were not in a target label in the previous membership
        (see :func:`crmlib.activation.build_audience`). ``in_segment``: every member in a
        target label.
    control_share : float, default 0.1
        Share of the eligible audience held out as a control group, 0 <= share < 1.
    recent_purchase_days : int or None, default 7
        Suppress customers with a purchase in the last N days up to ``as_of`` (N >= 1); None
        turns the rule off.
    frequency_cap_days : int or None, default 7
        Window of the frequency cap in days (>= 1); None turns the cap off.
    frequency_cap_max : int, default 1
        Suppress customers with at least this many ``sent`` events on ``channel`` in the last
        ``frequency_cap_days`` days (>= 1).
    label_column : str, default "segment"
        The members column the targets refer to: ``"segment"`` or ``"cluster_name"`` in
        04_segments, e.g. ``"action"`` for 06_churn's contact list.

    Examples
    --------
    >>> campaign = CampaignParams(name="winback-email", segments="At risk", channel="email")
    >>> campaign.segments, campaign.trigger, campaign.control_share
    (('At risk',), 'entered', 0.1)
    >>> try:
    ...     CampaignParams(name="win back", segments=["At risk"], channel="email")
    ... except ValidationError as exc:
    ...     print(exc.errors()[0]["loc"], exc.errors()[0]["msg"])
    ('name',) Value error, not a slug (letters, digits, '-' and '_', up to 64 characters, starting with a letter or a digit): the name becomes the export's file name
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: What a campaign name (and any export file name) looks like: a slug of 1 to 64 characters.
    NAME_PATTERN: ClassVar[re.Pattern[str]] = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")

    name: str = Field(description="slug, up to 64 characters; the export's file name")
    segments: tuple[str, ...] = Field(
        min_length=1, description="target labels (values of label_column)"
    )
    channel: Literal["email", "sms", "push"]
    trigger: Literal["in_segment", "entered"] = Field(
        default="entered", description="entered (since the previous run) | in_segment"
    )
    control_share: float = Field(default=0.1, ge=0.0, lt=1.0, strict=True)
    recent_purchase_days: int | None = Field(
        default=7, ge=1, strict=True, description="null: no recent-purchase rule"
    )
    frequency_cap_days: int | None = Field(
        default=7, ge=1, strict=True, description="null: no frequency cap"
    )
    frequency_cap_max: int = Field(default=1, ge=1, strict=True)
    label_column: str = Field(
        default="segment", min_length=1, description="members column of the target labels"
    )

    @field_validator("name")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not cls.NAME_PATTERN.fullmatch(value):
            raise ValueError(
                "not a slug (letters, digits, '-' and '_', up to 64 characters, starting with "
                "a letter or a digit): the name becomes the export's file name"
            )
        return value

    @field_validator("segments", mode="before")
    @classmethod
    def _one_label(cls, value: Any) -> Any:
        return (value,) if isinstance(value, str) else value

    @field_validator("segments")
    @classmethod
    def _labels(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for label in value:
            if not label.strip():
                raise ValueError("a label is blank; expected non-empty labels")
        if len(set(value)) < len(value):
            raise ValueError("a label is listed twice; expected each label once")
        return value

    @field_validator(
        "recent_purchase_days", "frequency_cap_days", "frequency_cap_max", mode="before"
    )
    @classmethod
    def _whole_number(cls, value: Any) -> Any:
        """Whole numbers only (numpy integers too); true/false and 2.5 are not numbers of days."""
        if isinstance(value, bool):
            raise ValueError("not a whole number")
        return int(value) if isinstance(value, Integral) else value

    @classmethod
    def validated(cls, settings: Any, *, label: str) -> CampaignParams:
        """``settings`` (a mapping of the fields) as a campaign; a ValueError naming ``label``
        (e.g. ``"campaign 'winback'"``) and each bad key, with what was expected, otherwise.

        Examples
        --------
        >>> CampaignParams.validated({"name": "x", "segments": ["A"]}, label="campaign 'x'")
        Traceback (most recent call last):
        ...
        ValueError: campaign 'x': missing required key 'channel'
        """
        try:
            return cls.model_validate(settings)
        except ValidationError as exc:
            raise ValueError(_format_errors(label, exc)) from None

    @property
    def description(self) -> str:
        """The targets in words, e.g. ``"At risk or Hibernating"``."""
        return " or ".join(self.segments)


def _default_campaigns() -> list[CampaignParams]:
    return [
        CampaignParams(
            name="winback-at-risk-email",
            segments=("At risk", "Can't lose"),
            channel="email",
            trigger="entered",
        ),
        CampaignParams(
            name="champions-vip-sms", segments=("Champions",), channel="sms", trigger="in_segment"
        ),
    ]


class SegmentsParams(_Strict):
    """Section `segments` (04_segments): RFM, rules, clusters, migration, affinities, campaigns."""

    window_days: int = Field(default=365, ge=30, description="RFM frequency/monetary window")
    bins: int = Field(default=5, ge=2, le=10, description="quantile score bins")
    rules: list[SegmentRuleParams] | None = Field(
        default=None,
        min_length=1,
        description="null: the default 11 segments (written for bins 5); names unique",
    )
    profile_dimensions: list[str] = Field(
        default_factory=lambda: ["region", "age_band", "acquisition_channel"]
    )
    migration_lookback_days: int = Field(default=90, ge=1)
    cluster_k_range: tuple[int, int] = (3, 8)
    cluster_bootstrap: int = Field(default=10, ge=2)
    affinity_level: Literal["category", "product"] = "category"
    affinity_min_pair_customers: int = Field(default=10, ge=1)
    campaigns: list[CampaignParams] = Field(default_factory=_default_campaigns)
    suppression_list: str | None = Field(
        default=None, description="CSV with customer_id; relative to the params file"
    )
    lookalike_segment: str = "Champions"

    @field_validator("rules")
    @classmethod
    def _unique_rule_names(
        cls, value: list[SegmentRuleParams] | None
    ) -> list[SegmentRuleParams] | None:
        if value is not None:
            SegmentRuleParams.check_unique_names([rule.name for rule in value])
        return value

    @field_validator("cluster_k_range")
    @classmethod
    def _k_range(cls, value: tuple[int, int]) -> tuple[int, int]:
        if not 2 <= value[0] <= value[1]:
            raise ValueError(f"cluster_k_range {value}: expected 2 <= low <= high")
        return value


ClvModel = Literal["bgnbd", "mbgnbd", "paretonbd"]


def _default_clv_models() -> list[ClvModel]:
    return ["bgnbd", "mbgnbd", "paretonbd"]


class ClvParams(_Strict):
    """Section `clv` (05_clv): time unit, calibration split, models, CLV horizon and money."""

    unit: Literal["day", "week", "calendar_week"] = Field(
        default="week", description="BTYD time unit: day, week (= 7 days) or calendar week"
    )
    calibration_end: dt.date | None = Field(
        default=None, description="end of the calibration period; null: as_of - holdout_days"
    )
    holdout_days: int = Field(default=182, ge=7, description="holdout length when no date")
    models: list[ClvModel] = Field(default_factory=_default_clv_models, min_length=1)
    selection: Literal["mae", "rmse", "aggregate_error", "log_likelihood"] = Field(
        default="mae", description="how the model is chosen on the holdout"
    )
    penalizer: float = Field(default=0.0, ge=0.0)
    horizon_months: int = Field(default=12, ge=1, le=120)
    annual_discount_rate: float = Field(default=0.10, ge=0.0, lt=1.0)
    margin: float = Field(default=0.30, gt=0.0, le=1.0, description="share of spend kept")
    bootstrap_draws: int = Field(default=200, ge=10)
    sensitivity_discount_rates: list[float] = Field(default_factory=lambda: [0.05, 0.10, 0.15])
    sensitivity_horizons: list[int] = Field(default_factory=lambda: [6, 12, 24])
    sensitivity_holdout_days: list[int] = Field(default_factory=lambda: [91, 182, 273])
    refit_max_customers: int = Field(
        default=100_000, ge=1_000,
        description="the cut-off refits of the sensitivity table fit on a random sample this big",
    )  # fmt: skip
    interval_max_customers: int = Field(
        default=100_000, ge=1_000,
        description="the bootstrap draws of the CLV intervals are evaluated on a sample this big",
    )  # fmt: skip


ChurnModelName = Literal["logistic", "hist_gradient_boosting"]


def _default_churn_models() -> list[ChurnModelName]:
    return ["logistic", "hist_gradient_boosting"]


class ChurnParams(_Strict):
    """Section `churn` (06_churn): label, feature windows, models, bands, value and contact."""

    horizon_days: int = Field(
        default=90, ge=7, le=365, description="churned = no order within N days of the cutoff"
    )
    lookback_days: int = Field(
        default=365, ge=30, description="active = an order in the N days up to the cutoff"
    )
    windows_days: list[int] = Field(default_factory=lambda: [30, 90, 365], min_length=1)
    engagement_windows_days: list[int] = Field(default_factory=lambda: [30, 90], min_length=1)
    exclude_features: list[str] = Field(
        default_factory=lambda: ["loyalty_tier"],
        description="features left out of the models; loyalty_tier is a snapshot that leaks",
    )
    models: list[ChurnModelName] = Field(default_factory=_default_churn_models, min_length=1)
    calibration: Literal["isotonic", "sigmoid"] = "isotonic"
    calibration_share: float = Field(default=0.25, gt=0.0, lt=1.0)
    class_weight: Literal["none", "balanced"] = "none"
    max_train_rows: int = Field(default=200_000, ge=1_000, description="training subsample")
    min_train_customers: int = Field(default=200, ge=20)
    min_class_count: int = Field(default=30, ge=5)
    btyd_unit: Literal["day", "week", "calendar_week"] = "week"
    btyd_max_customers: int = Field(
        default=100_000, ge=1_000,
        description="the BTYD baseline refits on a random sample this big (scores everyone)",
    )  # fmt: skip
    importance_max_rows: int = Field(
        default=10_000, ge=1_000, description="permutation importance on a random sample this big"
    )
    bootstrap_draws: int = Field(default=200, ge=20)
    top_features: int = Field(default=6, ge=1, le=20, description="drivers shown")
    band_thresholds: tuple[float, float] = (0.4, 0.7)
    margin: float = Field(default=0.30, gt=0.0, le=1.0, description="value without 05_clv")
    save_rate: float = Field(default=0.10, gt=0.0, le=1.0, description="churners a contact saves")
    cost_per_contact: float = Field(default=0.50, ge=0.0)
    contact_campaign: str = Field(
        default="churn-save-email", pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$"
    )
    contact_channel: Literal["email", "sms", "push"] = "email"
    control_share: float = Field(default=0.1, ge=0.0, lt=1.0)
    recent_purchase_days: int | None = Field(default=7, ge=1)
    frequency_cap_days: int = Field(default=7, ge=1)
    frequency_cap_max: int = Field(default=1, ge=1)
    suppression_list: str | None = Field(
        default=None, description="CSV with customer_id; relative to the params file"
    )

    @field_validator("band_thresholds")
    @classmethod
    def _bands(cls, value: tuple[float, float]) -> tuple[float, float]:
        if not 0.0 < value[0] < value[1] < 1.0:
            raise ValueError(f"band_thresholds {value}: expected 0 < low < high < 1")
        return value

    @field_validator("windows_days", "engagement_windows_days")
    @classmethod
    def _windows(cls, value: list[int]) -> list[int]:
        if any(days < 1 for days in value) or len(set(value)) != len(value):
            raise ValueError(f"{value}: expected distinct positive numbers of days")
        return value


def _default_ab_metrics() -> list[str]:
    return ["repurchase", "orders", "net_revenue", "retained", "opens", "clicks"]


def _default_cuped() -> dict[str, str]:
    return {"repurchase": "pre_orders", "orders": "pre_orders", "net_revenue": "pre_spend"}


class GuardrailParams(_Strict):
    """One guardrail of 07_ab_test: the tolerated worsening and which direction is worse."""

    margin: float = Field(
        gt=0.0,
        description="tolerated worsening of the absolute difference (a share for a yes/no "
        "metric: 0.005 = 0.5 points)",
    )
    worse: Literal["higher", "lower"] = Field(
        default="higher",
        description="higher: a rise is bad (unsubscribes, complaints); lower: a fall is bad "
        "(retention, visits)",
    )


def _default_guardrails() -> dict[str, GuardrailParams]:
    return {"unsubscribed": GuardrailParams(margin=0.005, worse="higher")}


class AbTestParams(_Strict):
    """Section `ab_test` (07_ab_test): outcome windows, metrics, guardrails, CUPED, money."""

    input: Literal["auto", "assignments", "export"] = Field(
        default="auto",
        description="auto: source.experiment_export when configured, else assignments",
    )
    control: str = Field(default="control", description="the control variant's name")
    window_days: int = Field(default=30, ge=1, le=365, description="outcome window")
    retention_days: int = Field(default=90, ge=1, le=730, description="retained at N days")
    pre_period_days: int = Field(default=365, ge=7, description="covariate window")
    metrics: list[str] = Field(default_factory=_default_ab_metrics, min_length=1)
    cuped_covariates: dict[str, str] = Field(
        default_factory=_default_cuped, description="metric -> pre-period covariate"
    )
    ratio_metrics: dict[str, tuple[str, str]] = Field(
        default_factory=lambda: {"revenue_per_order": ("net_revenue", "orders")},
        description="name -> (numerator, denominator), delta-method intervals",
    )
    primary_metric: str = Field(default="repurchase", description="the metric meant to move")
    revenue_metric: str | None = Field(
        default="net_revenue",
        description="the metric holding each customer's revenue (money: incremental revenue, "
        "profit, ROI); null: no money is computed",
    )
    retention_metric: str | None = Field(
        default="repurchase",
        description="the yes/no metric counted as a retained customer (cost per extra retained "
        "customer); null: not computed",
    )
    segments: list[str] = Field(
        default_factory=lambda: ["acquisition_channel"],
        description="effects broken down by these customer columns",
    )
    guardrails: dict[str, GuardrailParams] = Field(
        default_factory=_default_guardrails,
        description="metric -> {margin, worse}; a plain number is the margin with worse: higher",
    )
    alpha: float = Field(default=0.05, gt=0.0, lt=0.5)
    power: float = Field(default=0.8, gt=0.5, lt=1.0)
    srm_alpha: float = Field(default=0.001, gt=0.0, lt=0.1)
    cost_per_contact: float | None = Field(
        default=None, ge=0.0, description="null: assignments.cost"
    )
    margin: float = Field(default=0.30, gt=0.0, le=1.0, description="share of revenue kept")
    planned_lifts: list[float] = Field(
        default_factory=lambda: [0.05, 0.10, 0.20],
        min_length=1,
        description="relative lifts of the next test's sample-size table",
    )

    @field_validator("planned_lifts")
    @classmethod
    def _lifts(cls, value: list[float]) -> list[float]:
        if any(not 0.0 < lift < 10.0 for lift in value):
            raise ValueError(f"{value}: expected relative lifts in (0, 10), e.g. 0.1 for +10%")
        return value

    @field_validator("guardrails", mode="before")
    @classmethod
    def _guardrail_numbers(cls, value: Any) -> Any:
        """The older form ``{metric: margin}`` means ``{metric: {margin, worse: higher}}``."""
        if not isinstance(value, dict):
            return value
        return {
            metric: {"margin": spec, "worse": "higher"}
            if isinstance(spec, (int, float)) and not isinstance(spec, bool)
            else spec
            for metric, spec in value.items()
        }

    @model_validator(mode="after")
    def _metrics_named(self) -> AbTestParams:
        if self.primary_metric not in self.metrics:
            raise ValueError(
                f"primary_metric '{self.primary_metric}' is not among metrics {self.metrics}"
            )
        for key in ("revenue_metric", "retention_metric"):
            name = getattr(self, key)
            # the default names are checked against the data (and said in words when absent);
            # a name written in the params file must be one of its metrics
            if name is not None and key in self.model_fields_set and name not in self.metrics:
                raise ValueError(
                    f"{key} '{name}' is not among metrics {self.metrics}; expected one of them "
                    f"(money is computed from an analysed metric), or null for no "
                    f"{'money' if key == 'revenue_metric' else 'cost per retained customer'}"
                )
        return self


class WorkbookParams(_Strict):
    """One params file: common keys, the source, the engine, one section per stage."""

    run_name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    as_of_date: dt.date
    currency: str = Field(default="EUR", pattern=r"^[A-Z]{3}$")
    seed: int = Field(
        default=DEFAULT_SEED,
        description="every random draw of the run: control groups, clustering, bootstraps, splits",
    )
    source: SourceConfig
    engine: EngineConfig = Field(default_factory=EngineConfig)
    runner: RunnerParams = Field(default_factory=RunnerParams)
    privacy: PrivacyParams = Field(default_factory=PrivacyParams)
    ingest: IngestParams = Field(default_factory=IngestParams)
    kpis: KpisParams = Field(default_factory=KpisParams)
    cohorts: CohortsParams = Field(default_factory=CohortsParams)
    segments: SegmentsParams = Field(default_factory=SegmentsParams)
    clv: ClvParams = Field(default_factory=ClvParams)
    churn: ChurnParams = Field(default_factory=ChurnParams)
    ab_test: AbTestParams = Field(default_factory=AbTestParams)

    _path: Path | None = PrivateAttr(default=None)

    @property
    def path(self) -> Path | None:
        """The params file this was read from (None when built in code)."""
        return self._path

    def resolve(self, relative: str) -> Path:
        """A path from the params file, made absolute against the params file's folder."""
        candidate = Path(os.path.expanduser(relative))
        if candidate.is_absolute():
            return candidate
        base = self._path.parent if self._path is not None else Path.cwd()
        return (base / candidate).resolve()

    def section(self, name: str) -> dict[str, Any]:
        """The stage section `name` as plain, JSON-ready values."""
        if name not in STAGE_SECTIONS:
            raise ConfigError(f"unknown stage section {name!r}; expected one of {STAGE_SECTIONS}")
        return getattr(self, name).model_dump(mode="json")


@dataclass(frozen=True)
class SectionDefaults:
    """The defaults of every section, for the keyword defaults of library signatures.

    Each field is its section's model built with no keys (the model's own defaults), and
    ``seed`` is the top-level ``seed``'s default (:data:`DEFAULT_SEED`). A library function
    whose keyword mirrors a params key writes its default as
    ``lookback_days: int = DEFAULTS.churn.lookback_days``, so that a default is written once,
    in the model above, and changing it there changes every signature. List-valued keys are
    written ``tuple(DEFAULTS.churn.windows_days)`` (an immutable default). Read-only: the
    fields cannot be rebound, and signatures read the values once, at import.

    Examples
    --------
    >>> DEFAULTS.churn.lookback_days == ChurnParams().lookback_days
    True
    >>> DEFAULTS.segments.migration_lookback_days, DEFAULTS.seed == DEFAULT_SEED
    (90, True)
    """

    ingest: IngestParams = field(default_factory=IngestParams)
    kpis: KpisParams = field(default_factory=KpisParams)
    cohorts: CohortsParams = field(default_factory=CohortsParams)
    segments: SegmentsParams = field(default_factory=SegmentsParams)
    clv: ClvParams = field(default_factory=ClvParams)
    churn: ChurnParams = field(default_factory=ChurnParams)
    ab_test: AbTestParams = field(default_factory=AbTestParams)
    privacy: PrivacyParams = field(default_factory=PrivacyParams)
    seed: int = DEFAULT_SEED


#: The section defaults library signatures read (:class:`SectionDefaults`).
DEFAULTS = SectionDefaults()


STAGE_SECTIONS: tuple[str, ...] = (
    "ingest",
    "kpis",
    "cohorts",
    "segments",
    "clv",
    "churn",
    "ab_test",
)


def section_for_notebook(notebook_name: str) -> str:
    """The params section of a numbered notebook: ``02_kpis.ipynb`` -> ``kpis``."""
    stem = Path(notebook_name).stem
    match = re.fullmatch(r"\d{2}_(\w+)", stem)
    if match is None or match.group(1) not in STAGE_SECTIONS:
        raise ConfigError(
            f"notebook {notebook_name!r} is not named NN_<section> with a section among {STAGE_SECTIONS}"
        )
    return match.group(1)


#: A key some sections had before one top-level setting replaced it: the sections, and what
#: replaced it (the error message names it).
_RETIRED_KEYS: dict[str, tuple[tuple[str, ...], str]] = {
    "min_cell_size": (
        RETIRED_MIN_CELL_SECTIONS,
        "'privacy.min_cell_size' (one small-cell rule for every page)",
    ),
    "seed": (RETIRED_SEED_SECTIONS, "the top-level 'seed' (one seed for the run)"),
}


def _format_errors(path: Path | str, error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        key = ".".join(str(part) for part in item["loc"]) or "(top level)"
        retired = _RETIRED_KEYS.get(str(item["loc"][-1])) if len(item["loc"]) == 2 else None
        if item["type"] == "extra_forbidden" and retired and item["loc"][0] in retired[0]:
            lines.append(
                f"{path}: key '{key}' was replaced by {retired[1]}: move the value there and "
                f"delete '{key}'"
            )
        elif item["type"] == "extra_forbidden":
            lines.append(f"{path}: unknown key '{key}'")
        elif item["type"] == "missing":
            lines.append(f"{path}: missing required key '{key}'")
        else:
            lines.append(f"{path}: key '{key}': {item['msg']} (got {item.get('input')!r})")
    return "\n".join(lines)


def _merged(base: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``changes`` applied: a section (a top-level mapping) merges key by key; a
    key inside a section, or any other top-level key, is replaced whole (a changed
    ``guardrails`` mapping is the new one, not a blend of the two)."""
    merged = dict(base)
    for key, value in changes.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged


def load_params(
    path: str | os.PathLike[str], overrides: Mapping[str, Any] | None = None
) -> WorkbookParams:
    """Read and validate a params file.

    Parameters
    ----------
    path : path-like
        A YAML file under ``params/``.
    overrides : dict, optional
        Keys replacing the file's, in the file's shape (``{"run_name": "nightly"}``,
        ``{"clv": {"horizon_months": 24}}``): a section's keys replace the file's one by one.

    Returns
    -------
    WorkbookParams
        Validated; relative paths resolve against the file's folder.

    Raises
    ------
    ConfigError
        The file is missing or not YAML, or a key is unknown, missing or of the wrong type;
        the message names the file and the key.
    """
    params_path = Path(path)
    if not params_path.is_file():
        raise ConfigError(f"{params_path}: params file not found")
    try:
        raw = yaml.safe_load(params_path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{params_path}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{params_path}: expected a mapping of keys at the top level")
    try:
        params = WorkbookParams.model_validate(_merged(raw, overrides or {}))
    except ValidationError as exc:
        where = f"{params_path} (with overrides {overrides})" if overrides else params_path
        raise ConfigError(_format_errors(where, exc)) from None
    params._path = params_path.resolve()
    return params


#: What every notebook reads from the top level of the params file (:class:`StageParams`).
COMMON_KEYS: tuple[str, ...] = (
    "run_name", "as_of_date", "currency", "seed", "min_cell_size", "engine", "source",
)  # fmt: skip


class StageParams:
    """One notebook's params, typed: its section's keys and the run's cross-stage keys.

    What :func:`load_stage_params` returns. ``params.horizon_months`` is a key of the
    notebook's section (:class:`ClvParams` for 05_clv); the cross-stage keys
    (:data:`COMMON_KEYS`) come from the file's top level: ``run_name``, ``as_of_date`` (a
    :class:`datetime.date`), ``currency``, ``seed``, ``min_cell_size`` (the page rule,
    ``privacy.min_cell_size``), ``engine`` and ``source``. ``section`` is the section model
    itself (to pass to a stage function whole), ``workbook`` the whole file, and
    :meth:`resolve` makes a path of the file absolute.

    Examples
    --------
    >>> params = StageParams(WorkbookParams.model_validate({"run_name": "doc",
    ...     "as_of_date": "2025-12-31", "source": {"transactions": {"path": "t.csv"}}}), "clv")
    >>> params.horizon_months, params.as_of_date, params.min_cell_size, params.seed
    (12, datetime.date(2025, 12, 31), 10, 20251231)
    """

    __slots__ = ("name", "section", "workbook")

    def __init__(self, workbook: WorkbookParams, name: str) -> None:
        if name not in STAGE_SECTIONS:
            raise ConfigError(f"unknown stage section {name!r}; expected one of {STAGE_SECTIONS}")
        self.workbook = workbook
        self.name = name
        self.section: BaseModel = getattr(workbook, name)

    @property
    def run_name(self) -> str:
        return self.workbook.run_name

    @property
    def as_of_date(self) -> dt.date:
        return self.workbook.as_of_date

    @property
    def currency(self) -> str:
        return self.workbook.currency

    @property
    def seed(self) -> int:
        return self.workbook.seed

    @property
    def min_cell_size(self) -> int:
        return self.workbook.privacy.min_cell_size

    @property
    def engine(self) -> EngineConfig:
        return self.workbook.engine

    @property
    def source(self) -> SourceConfig:
        return self.workbook.source

    def resolve(self, relative: str) -> Path:
        """A path of the params file made absolute (:meth:`WorkbookParams.resolve`)."""
        return self.workbook.resolve(relative)

    def __getattr__(self, key: str) -> Any:
        # only reached for names that are not attributes: the section's keys
        section = object.__getattribute__(self, "section")
        if key in type(section).model_fields:
            return getattr(section, key)
        name = object.__getattribute__(self, "name")
        raise AttributeError(
            f"params: '{key}' is neither a key of section '{name}' "
            f"({', '.join(type(section).model_fields)}) nor one of {COMMON_KEYS}"
        )

    def __dir__(self) -> list[str]:
        return sorted({*COMMON_KEYS, "name", "section", "workbook", "resolve",
                       *type(self.section).model_fields})  # fmt: skip

    def __repr__(self) -> str:
        return f"StageParams({self.name!r}, run_name={self.run_name!r})"


def load_stage_params(
    path: str | os.PathLike[str], section: str, overrides: Mapping[str, Any] | None = None
) -> StageParams:
    """The params one notebook works with, from the run's params file: one line in a notebook.

    The runner injects ``params_file`` and ``overrides`` (its ``--run-name``, if any); an
    analyst may add changes in the same cell and rerun, e.g. ``overrides = {"horizon_months":
    24}``. A key of ``overrides`` that is not a top-level key of the file is a key of this
    notebook's section, so ``{"horizon_months": 24}`` and ``{"clv": {"horizon_months": 24}}``
    mean the same in 05_clv. The result is validated exactly like the file
    (:func:`load_params`): a bad value fails here, naming the key.

    Parameters
    ----------
    path : path-like
        The params YAML.
    section : str
        The notebook's section (:func:`section_for_notebook`).
    overrides : mapping, optional
        Changes to the file's values, top-level or of this section.

    Returns
    -------
    StageParams
    """
    if section not in STAGE_SECTIONS:
        raise ConfigError(f"unknown stage section {section!r}; expected one of {STAGE_SECTIONS}")
    top = set(WorkbookParams.model_fields)
    changes: dict[str, Any] = {k: v for k, v in (overrides or {}).items() if k in top}
    own = {k: v for k, v in (overrides or {}).items() if k not in top}
    if own:
        changes[section] = {**changes.get(section, {}), **own}
    return StageParams(load_params(path, changes or None), section)
