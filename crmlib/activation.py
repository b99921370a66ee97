"""Activation lists: campaign audiences that always honour consent, unsubscribes and suppression.

A campaign (:class:`Campaign`) targets labels of a one-row-per-customer *members* frame
(segments, clusters, churn risk bands). :func:`build_audience` keeps the members who pass, in
order, the trigger, consent on the campaign's channel and every suppression rule, then holds out
a seeded control group; :func:`write_exports` writes ``exports/<campaign>.csv`` and a manifest of
counts. Every rule fails closed: without consent information nobody is exportable.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import os
import re
import tempfile
import uuid
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from crmlib.checks import require_columns, require_view
from crmlib.engine import Engine, quote_identifier
from crmlib.errors import DataContractError, SourceFileError
from crmlib.io import RunFolder, read_json, write_json_atomic
from crmlib.periods import as_date, exclusive_end
from crmlib.privacy import MIN_CELL_SIZE, SmallCells

__all__ = [
    "CHANNELS",
    "TRIGGERS",
    "FUNNEL_STEPS",
    "EXPORT_COLUMNS",
    "LOOKALIKE_COLUMNS",
    "FUNNEL_COLUMNS",
    "Campaign",
    "Audience",
    "check_campaigns",
    "load_suppression_list",
    "build_audience",
    "lookalike_seed",
    "write_exports",
    "describe_activation",
]

log = logging.getLogger(__name__)

#: Messaging channels a campaign can use (the ``events.channel`` values).
CHANNELS: tuple[str, ...] = ("email", "sms", "push")
#: Campaign triggers: currently in a target label, or entered one since the previous membership.
TRIGGERS: tuple[str, ...] = ("in_segment", "entered")
#: Steps of an audience funnel, in order (``target`` + ``control`` = ``not_capped``).
FUNNEL_STEPS: tuple[str, ...] = (
    "in_segment", "consented", "not_suppressed", "no_recent_purchase", "not_capped",
    "target", "control",
)  # fmt: skip
#: Columns of :attr:`Audience.export` and of ``exports/<campaign>.csv``.
EXPORT_COLUMNS: tuple[str, ...] = ("customer_id", "campaign", "segment", "group", "reason")
#: Columns of :func:`lookalike_seed`.
LOOKALIKE_COLUMNS: tuple[str, ...] = ("customer_id", "segment", "reason")
#: Columns of :attr:`Audience.funnel` (the last three describe the campaign, for the report).
FUNNEL_COLUMNS: tuple[str, ...] = (
    "campaign", "step", "customers", "channel", "trigger", "segments",
)  # fmt: skip

_SLUG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
_MANIFEST = "manifest"
_FIELDS = (
    "name", "segments", "channel", "trigger", "control_share", "recent_purchase_days",
    "frequency_cap_days", "frequency_cap_max", "label_column",
)  # fmt: skip
_REQUIRED = ("name", "segments", "channel")
_EMPTY_IDS = "(SELECT CAST(NULL AS VARCHAR) AS customer_id WHERE FALSE)"
_EMPTY_MEMBERS = (
    "(SELECT CAST(NULL AS VARCHAR) AS customer_id, CAST(NULL AS VARCHAR) AS label WHERE FALSE)"
)
_EMPTY_EVENTS = (
    "(SELECT CAST(NULL AS VARCHAR) AS customer_id, CAST(NULL AS TIMESTAMP) AS event_ts, "
    "CAST(NULL AS VARCHAR) AS channel, CAST(NULL AS VARCHAR) AS event_type WHERE FALSE)"
)
_EMPTY_TRANSACTIONS = (
    "(SELECT CAST(NULL AS VARCHAR) AS customer_id, CAST(NULL AS TIMESTAMP) AS order_ts, "
    "CAST(NULL AS BOOLEAN) AS is_purchase WHERE FALSE)"
)
_NO_CONSENT = "CAST(NULL AS BOOLEAN)"


# -- campaigns -------------------------------------------------------------------------------
def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


@dataclass(frozen=True)
class Campaign:
    """One activation campaign: who to target, on which channel, with which suppression rules.

    Parameters
    ----------
    name : str
        A slug (letters, digits, ``-``, ``_``; up to 64 characters, starting with a letter or a
        digit): it names ``exports/<name>.csv``.
    segments : tuple of str
        Target labels (values of ``label_column`` in the members frame); at least one. A single
        string is taken as one label.
    channel : {"email", "sms", "push"}
        Consent, unsubscribes and the frequency cap are checked on this channel.
    trigger : {"in_segment", "entered"}, default "in_segment"
        ``in_segment``: every member in a target label. ``entered``: only members who were not
        in a target label in the previous membership (see :func:`build_audience`).
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
        The members column the targets refer to, e.g. ``"cluster_name"`` or ``"risk_band"``.

    Examples
    --------
    >>> Campaign("winback-email", ("At risk",), "email", trigger="entered").control_share
    0.1
    >>> Campaign("win back", ("At risk",), "email")
    Traceback (most recent call last):
    ...
    ValueError: campaign 'win back': name 'win back' is not a slug (letters, digits, '-' and '_', up to 64 characters, starting with a letter or a digit): it becomes the export's file name
    """

    name: str
    segments: tuple[str, ...]
    channel: str
    trigger: str = "in_segment"
    control_share: float = 0.1
    recent_purchase_days: int | None = 7
    frequency_cap_days: int | None = 7
    frequency_cap_max: int = 1
    label_column: str = "segment"

    def __post_init__(self) -> None:
        name = self.name
        if not isinstance(name, str) or not _SLUG.match(name):
            raise ValueError(
                f"campaign {name!r}: name {name!r} is not a slug (letters, digits, '-' and '_', "
                "up to 64 characters, starting with a letter or a digit): it becomes the "
                "export's file name"
            )
        segments: Any = self.segments
        if isinstance(segments, str):
            segments = (segments,)
        if not isinstance(segments, Iterable):
            raise ValueError(f"campaign {name!r}: segments {segments!r} is not a list of labels")
        segments = tuple(segments)
        if not segments:
            raise ValueError(f"campaign {name!r}: segments is empty; expected at least one label")
        for label in segments:
            if not isinstance(label, str) or not label.strip():
                raise ValueError(
                    f"campaign {name!r}: segments has {label!r}; expected non-empty strings"
                )
        if len(set(segments)) < len(segments):
            raise ValueError(f"campaign {name!r}: segments {list(segments)} lists a label twice")
        object.__setattr__(self, "segments", segments)
        if self.channel not in CHANNELS:
            raise ValueError(
                f"campaign {name!r}: channel {self.channel!r} is not one of {list(CHANNELS)}"
            )
        if self.trigger not in TRIGGERS:
            raise ValueError(
                f"campaign {name!r}: trigger {self.trigger!r} is not one of {list(TRIGGERS)}"
            )
        share = self.control_share
        if (
            isinstance(share, (bool, np.bool_))
            or not isinstance(share, (int, float, np.integer, np.floating))
            or not 0 <= float(share) < 1
        ):
            raise ValueError(
                f"campaign {name!r}: control_share {share!r} is not a number with "
                "0 <= control_share < 1"
            )
        object.__setattr__(self, "control_share", float(share))
        for key in ("recent_purchase_days", "frequency_cap_days"):
            days = getattr(self, key)
            if days is not None and (not _is_int(days) or days < 1):
                raise ValueError(
                    f"campaign {name!r}: {key} {days!r} is not a whole number of days >= 1 "
                    "(or null to turn the rule off)"
                )
        if not _is_int(self.frequency_cap_max) or self.frequency_cap_max < 1:
            raise ValueError(
                f"campaign {name!r}: frequency_cap_max {self.frequency_cap_max!r} is not a "
                "whole number >= 1"
            )
        if not isinstance(self.label_column, str) or not self.label_column:
            raise ValueError(
                f"campaign {name!r}: label_column {self.label_column!r} is not a column name"
            )

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any]) -> Campaign:
        """A campaign from a params mapping (``segments.campaigns[i]`` of the params file).

        Keys are the field names; ``name``, ``segments`` and ``channel`` are required. An
        unknown or missing key, or a bad value, is a ValueError naming the campaign and the key.

        Examples
        --------
        >>> Campaign.from_mapping({"name": "vip-sms", "segments": ["Champions"], "channel": "sms",
        ...                        "control_share": 0.2}).segments
        ('Champions',)
        >>> Campaign.from_mapping({"name": "vip-sms", "segment": "Champions", "channel": "sms"})
        Traceback (most recent call last):
        ...
        ValueError: campaign 'vip-sms': unknown key 'segment'; expected keys: name, segments, channel, trigger, control_share, recent_purchase_days, frequency_cap_days, frequency_cap_max, label_column
        """
        if not isinstance(mapping, Mapping):
            raise ValueError(f"campaign {mapping!r}: expected a mapping of campaign settings")
        name = mapping.get("name", "(unnamed)")
        for key in mapping:
            if key not in _FIELDS:
                raise ValueError(
                    f"campaign {name!r}: unknown key {key!r}; expected keys: {', '.join(_FIELDS)}"
                )
        for key in _REQUIRED:
            if key not in mapping:
                raise ValueError(f"campaign {name!r}: key {key!r} is missing")
        return cls(**dict(mapping))

    @property
    def description(self) -> str:
        """The targets in words, e.g. ``"At risk or Hibernating"``."""
        return " or ".join(self.segments)


def check_campaigns(
    campaigns: Iterable[Campaign | Mapping[str, Any]],
    *,
    known_labels: Mapping[str, Collection[str]],
) -> tuple[Campaign, ...]:
    """Campaigns checked against the labels that exist, in the given order.

    Parameters
    ----------
    campaigns : iterable of Campaign or mapping
        Mappings are read with :meth:`Campaign.from_mapping`.
    known_labels : mapping of str to collection of str
        Per label column (``"segment"``, ``"cluster_name"``, ...), every label it can take
        (for segments: the names in the rule table).

    Returns
    -------
    tuple of Campaign

    Raises
    ------
    ValueError
        Two campaigns share a name; a campaign's ``label_column`` has no known labels; a target
        label is unknown (the message names the campaign and the label and lists the known ones).

    Examples
    --------
    >>> check_campaigns([{"name": "a", "segments": ["Champs"], "channel": "email"}],
    ...                 known_labels={"segment": ["Champions", "At risk"]})
    Traceback (most recent call last):
    ...
    ValueError: campaign 'a': segment 'Champs' is not a known segment; known: ['At risk', 'Champions']
    """
    checked: list[Campaign] = []
    for item in campaigns:
        campaign = item if isinstance(item, Campaign) else Campaign.from_mapping(item)
        if any(other.name == campaign.name for other in checked):
            raise ValueError(
                f"campaign {campaign.name!r}: two campaigns have this name; names must be unique "
                "(each one names an export file)"
            )
        column = campaign.label_column
        if column not in known_labels:
            raise ValueError(
                f"campaign {campaign.name!r}: label_column {column!r} has no known labels; "
                f"known columns: {sorted(known_labels)}"
            )
        known = {str(label) for label in known_labels[column]}
        what = column.replace("_", " ")
        for label in campaign.segments:
            if label not in known:
                raise ValueError(
                    f"campaign {campaign.name!r}: {what} {label!r} is not a known {what}; "
                    f"known: {sorted(known)}"
                )
        checked.append(campaign)
    return tuple(checked)


# -- inputs ----------------------------------------------------------------------------------
def load_suppression_list(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a global suppression list: a CSV file with a ``customer_id`` column.

    Ids are read as text (``007`` stays ``007``) and trimmed; blank ids are dropped, repeated ids
    kept once. The counts (never the ids) are logged and kept in ``frame.attrs``: ``rows_read``,
    ``blank_ids``, ``duplicate_ids``, ``source``.

    Parameters
    ----------
    path : path-like
        The CSV file (UTF-8, a byte-order mark is accepted; other columns are ignored).

    Returns
    -------
    pd.DataFrame
        One row per suppressed customer: *customer_id*, in file order.

    Raises
    ------
    SourceFileError
        The file is missing, empty, unreadable as UTF-8 CSV, or has no ``customer_id`` column.
    """
    source = Path(path)
    if not source.is_file():
        raise SourceFileError(f"suppression list {source}: file not found")
    try:
        raw = pd.read_csv(
            source, dtype="str", keep_default_na=False, encoding="utf-8-sig", usecols=None
        )
    except pd.errors.EmptyDataError as exc:
        raise SourceFileError(
            f"suppression list {source}: the file is empty; expected a header with customer_id"
        ) from exc
    except (UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise SourceFileError(
            f"suppression list {source}: not a readable UTF-8 CSV file ({type(exc).__name__})"
        ) from exc
    raw.columns = [str(c).strip() for c in raw.columns]
    if "customer_id" not in raw.columns:
        raise SourceFileError(
            f"suppression list {source}: column 'customer_id' is missing; found "
            f"{sorted(raw.columns)}"
        )
    ids = raw["customer_id"].astype("str").str.strip()
    blank = ids == ""
    kept = ids[~blank]
    duplicated = kept.duplicated()
    frame = pd.DataFrame({"customer_id": kept[~duplicated].to_numpy()}).astype("str")
    frame.attrs.update(
        {
            "source": source.name,
            "rows_read": len(ids),
            "blank_ids": int(blank.sum()),
            "duplicate_ids": int(duplicated.sum()),
        }
    )
    log.info(
        "suppression list %s: %d rows, %d blank ids dropped, %d repeated ids kept once: "
        "%d customers",
        source.name,
        len(ids),
        int(blank.sum()),
        int(duplicated.sum()),
        len(frame),
    )
    return frame


def _prepare_members(frame: pd.DataFrame, label_column: str, *, table_name: str) -> pd.DataFrame:
    """*customer_id, label* (text) from a one-row-per-customer frame; clear errors otherwise."""
    require_columns(frame, ["customer_id", label_column], table_name=table_name)
    ids = frame["customer_id"]
    missing = ids.isna() | (ids.astype("str").str.strip() == "")
    if missing.any():
        raise DataContractError(
            f"{table_name}: column 'customer_id' is empty on {int(missing.sum())} rows"
        )
    ids = ids.astype("str")
    repeated = int(ids.duplicated().sum())
    if repeated:
        raise DataContractError(
            f"{table_name}: {repeated} customer_id values appear more than once; expected one "
            "row per customer"
        )
    labels = frame[label_column].astype("string")
    return pd.DataFrame({"customer_id": ids.to_numpy(), "label": labels.to_numpy()})


def _prepare_suppression(suppression: pd.DataFrame | None) -> pd.DataFrame | None:
    if suppression is None:
        return None
    require_columns(suppression, ["customer_id"], table_name="suppression list")
    ids = suppression["customer_id"].dropna().astype("str").str.strip()
    ids = ids[ids != ""].drop_duplicates()
    return pd.DataFrame({"customer_id": ids.to_numpy()}).astype("str")


def _opt_in_sql(engine: Engine, customers: str, channel: str) -> tuple[str, str | None]:
    """The SQL of ``customers.<channel>_opt_in`` (or NULL = no consent) and a note when absent."""
    column = f"{channel}_opt_in"
    types = engine.column_types(customers)
    if column not in types:
        return _NO_CONSENT, (
            f"{customers} has no column {column}: consent to {channel} is unknown, so nobody "
            f"is exportable on {channel} (fail closed)"
        )
    if types[column] != "BOOLEAN":
        raise DataContractError(
            f"{customers}: column '{column}' is {types[column]}, expected BOOLEAN"
        )
    return f"c.{quote_identifier(column)}", None


@contextmanager
def _registered(
    engine: Engine, frames: Mapping[str, pd.DataFrame | None]
) -> Iterator[dict[str, str]]:
    """Register each frame under a fresh name (None: skipped); unregister however we leave."""
    token = uuid.uuid4().hex[:16]
    present = {kind: frame for kind, frame in frames.items() if frame is not None}
    names = {kind: f"activation_{kind}_{token}" for kind in present}
    try:
        for kind, frame in present.items():
            engine.register(names[kind], frame)
        yield names
    finally:
        for name in names.values():
            engine.con.unregister(name)


def _control_uniform(control_hash: pd.Series) -> np.ndarray:
    """Uniform [0, 1) draws from 8-byte md5 prefixes: the top 53 bits over 2^53 (exact)."""
    if control_hash.empty:
        return np.zeros(0, dtype="float64")
    raw = b"".join(control_hash.tolist())
    if len(raw) != 8 * len(control_hash):
        raise RuntimeError("activation_audience: control_hash is not 8 bytes per customer")
    bits = np.frombuffer(raw, dtype=">u8") >> np.uint64(11)
    return bits.astype("float64") / float(2**53)


# -- audiences -------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class Audience:
    """The result of :func:`build_audience` for one campaign.

    Attributes
    ----------
    campaign : Campaign
    export : pd.DataFrame
        One row per exported customer, sorted by customer_id: :data:`EXPORT_COLUMNS`
        (*customer_id, campaign, segment* (the label value), *group* ("target" or "control"),
        *reason* in plain words, without ids).
    funnel : pd.DataFrame
        One row per step of :data:`FUNNEL_STEPS`, in order: *campaign, step, customers*
        (plus *channel, trigger, segments* describing the campaign).
    notes : tuple of str
        What could not be checked or was turned off (no ids).
    as_of_date : date
    baseline_date : date or None
        For trigger "entered": the date of the membership compared with.
    seed : int
    """

    campaign: Campaign
    export: pd.DataFrame
    funnel: pd.DataFrame
    notes: tuple[str, ...]
    as_of_date: dt.date
    baseline_date: dt.date | None
    seed: int

    @property
    def realised_control_share(self) -> float | None:
        """Control / (target + control); None for an empty audience."""
        return float((self.export["group"] == "control").mean()) if len(self.export) else None


def _label_words(label_column: str) -> str:
    return "segment" if label_column == "segment" else label_column.replace("_", " ")


def build_audience(
    engine: Engine,
    campaign: Campaign,
    *,
    members: pd.DataFrame,
    as_of_date: dt.date | str,
    previous_members: pd.DataFrame | None = None,
    previous_as_of_date: dt.date | str | None = None,
    lookback_days: int = 90,
    suppression: pd.DataFrame | None = None,
    seed: int = 0,
    customers: str = "customers",
    events: str = "events",
    transactions: str = "transactions",
) -> Audience:
    """The audience of one campaign at ``as_of_date``: who passes every rule, target and control.

    Transforms *members* (one row per customer: customer_id and ``campaign.label_column`` at
    ``as_of_date``) into the campaign's export (one row per exported customer). The rules run in
    this order, each counted in the funnel; all joins run on the engine:

    1. **in_segment**: the label is one of ``campaign.segments``; with trigger ``entered`` the
       customer was also *not* in a target label in ``previous_members`` (a customer absent
       from it counts as entered; moving between two target labels is not entering).
    2. **consented**: ``<channel>_opt_in`` is true in ``customers`` (no customers row, a null
       flag, or no customers table at all is *no consent*: fail closed) and there is no
       ``unsubscribe`` event on the channel before the end of ``as_of_date`` (a later one does
       not count yet).
    3. **not_suppressed**: not on the ``suppression`` list.
    4. **no_recent_purchase**: no purchase (``is_purchase``) in the last
       ``recent_purchase_days`` days up to the end of ``as_of_date`` (N = 1: ``as_of_date``
       itself).
    5. **not_capped**: fewer than ``frequency_cap_max`` ``sent`` events on the channel in the
       last ``frequency_cap_days`` days up to the end of ``as_of_date``.
    6. **target / control**: a customer is in the control group when
       u = md5(``"<seed>:<campaign>:<customer_id>"``)'s first 53 bits / 2^53 is below
       ``control_share``. The draw depends only on the seed, the campaign name and the id:
       identical across runs, machines, engines and row orders, and independent between
       campaigns; a customer keeps their group from run to run while the seed is unchanged.

    Parameters
    ----------
    engine : Engine
        With ``customers`` and ``events`` registered when available, and ``transactions``
        when ``campaign.recent_purchase_days`` is set.
    campaign : Campaign
    members : pd.DataFrame
        One row per customer at ``as_of_date``: *customer_id* and ``campaign.label_column``.
    as_of_date : date or str
        The last day covered (inclusive).
    previous_members : pd.DataFrame, optional
        The same columns at the previous run (or at ``as_of_date - lookback_days``, computed by
        the caller); required with trigger ``entered``, ignored otherwise.
    previous_as_of_date : date or str, optional
        The date ``previous_members`` describes (the previous run's ``as_of_date``); None means
        it was computed at ``as_of_date - lookback_days``. Used in the reasons and the manifest.
    lookback_days : int, default 90
        See ``previous_as_of_date``.
    suppression : pd.DataFrame, optional
        A *customer_id* column (as from :func:`load_suppression_list`); None = no list.
    seed : int, default 0
        Seed of the control draw.
    customers, events, transactions : str
        View names.

    Returns
    -------
    Audience

    Raises
    ------
    ValueError
        Trigger ``entered`` without ``previous_members``; a baseline date not before
        ``as_of_date``.
    DataContractError
        ``members`` lacks a column, has an empty or repeated customer_id; a view lacks a column.
    StageInputMissing
        ``transactions`` is not registered while ``recent_purchase_days`` is set.
    """
    as_of = as_date(as_of_date)
    end_ts = exclusive_end(as_of)
    label_column = campaign.label_column
    notes: list[str] = []
    member_rows = _prepare_members(members, label_column, table_name="members")
    previous_rows: pd.DataFrame | None = None
    baseline: dt.date | None = None
    if campaign.trigger == "entered":
        if previous_members is None:
            raise ValueError(
                f"campaign {campaign.name!r}: trigger 'entered' needs the previous membership: "
                "pass previous_members (the previous run's members, or the membership at "
                "as_of_date - lookback_days)"
            )
        previous_rows = _prepare_members(
            previous_members, label_column, table_name="previous_members"
        )
        if not _is_int(lookback_days) or lookback_days < 1:
            raise ValueError(f"lookback_days={lookback_days!r}: expected a whole number >= 1")
        baseline = (
            as_date(previous_as_of_date)
            if previous_as_of_date is not None
            else as_of - dt.timedelta(days=int(lookback_days))
        )
        if baseline >= as_of:
            raise ValueError(
                f"campaign {campaign.name!r}: previous_as_of_date {baseline} is not before "
                f"as_of_date {as_of}"
            )
        notes.append(f"trigger 'entered': compared with the membership on {baseline}")

    if engine.has_table(customers):
        require_view(engine, customers, ("customer_id",), producer="01_ingest")
        customers_sql = customers
        opt_in, note = _opt_in_sql(engine, customers, campaign.channel)
        if note:
            notes.append(note)
    else:
        customers_sql, opt_in = _EMPTY_IDS, _NO_CONSENT
        notes.append(
            f"no {customers} table: consent to {campaign.channel} is unknown, so nobody is "
            "exportable (fail closed)"
        )
    if engine.has_table(events):
        require_view(
            engine,
            events,
            ("customer_id", "event_ts", "channel", "event_type"),
            producer="01_ingest",
        )
        events_sql = events
    else:
        events_sql = _EMPTY_EVENTS
        notes.append(
            f"no {events} table: consent is the signup opt-in only (unsubscribes unknown) and "
            "the frequency cap was not checked"
        )
    if campaign.recent_purchase_days is not None:
        require_view(
            engine, transactions, ("customer_id", "order_ts", "is_purchase"), producer="01_ingest"
        )
        transactions_sql = transactions
        purchase_from = end_ts - dt.timedelta(days=campaign.recent_purchase_days)
    else:
        transactions_sql, purchase_from = _EMPTY_TRANSACTIONS, end_ts
        notes.append("recent-purchase suppression is off")
    if campaign.frequency_cap_days is not None:
        cap_from = end_ts - dt.timedelta(days=campaign.frequency_cap_days)
    else:
        cap_from = end_ts
        notes.append("the frequency cap is off")
    suppression_rows = _prepare_suppression(suppression)
    if suppression_rows is None:
        notes.append("no suppression list was given")

    targets = pd.DataFrame({"label": pd.array(campaign.segments, dtype="string")})
    frames = {
        "members": member_rows,
        "targets": targets,
        "previous": previous_rows,
        "suppression": suppression_rows,
    }
    with _registered(engine, frames) as views:
        flags = engine.query(
            "activation_audience",
            {
                "channel": campaign.channel,
                "end_ts": end_ts,
                "purchase_from": purchase_from,
                "cap_from": cap_from,
                "cap_max": int(campaign.frequency_cap_max),
                "salt": f"{int(seed)}:{campaign.name}:",
            },
            identifiers={
                "members": views["members"],
                "targets": views["targets"],
                "previous": views.get("previous", _EMPTY_MEMBERS),
                "customers": customers_sql,
                "opt_in": opt_in,
                "events": events_sql,
                "suppression": views.get("suppression", _EMPTY_IDS),
                "transactions": transactions_sql,
            },
        )
    return _finish(campaign, flags, notes=notes, as_of=as_of, baseline=baseline, seed=int(seed))


def _finish(
    campaign: Campaign,
    flags: pd.DataFrame,
    *,
    notes: list[str],
    as_of: dt.date,
    baseline: dt.date | None,
    seed: int,
) -> Audience:
    """Funnel counts, the control split and the export from the per-customer flags."""
    passed = flags["consented"].astype("bool").to_numpy()
    counts = {"in_segment": len(flags), "consented": int(passed.sum())}
    for step, flag in (
        ("not_suppressed", "suppressed"),
        ("no_recent_purchase", "recent_purchase"),
        ("not_capped", "capped"),
    ):
        passed = passed & ~flags[flag].astype("bool").to_numpy()
        counts[step] = int(passed.sum())
    eligible = flags[passed]
    control = _control_uniform(eligible["control_hash"]) < campaign.control_share
    counts["control"] = int(control.sum())
    counts["target"] = counts["not_capped"] - counts["control"]

    words = _label_words(campaign.label_column)
    labels = eligible["label"].astype("str")
    reason = (
        "entered " + labels + f" since {baseline}"
        if campaign.trigger == "entered"
        else f"in {words} " + labels
    )
    export = pd.DataFrame(
        {
            "customer_id": eligible["customer_id"].astype("str").to_numpy(),
            "campaign": campaign.name,
            "segment": labels.to_numpy(),
            "group": np.where(control, "control", "target"),
            "reason": reason.to_numpy(),
        },
        columns=list(EXPORT_COLUMNS),
    ).astype("str")
    export = export.sort_values("customer_id", kind="stable", ignore_index=True)
    funnel = pd.DataFrame(
        {
            "campaign": campaign.name,
            "step": list(FUNNEL_STEPS),
            "customers": [counts[step] for step in FUNNEL_STEPS],
            "channel": campaign.channel,
            "trigger": campaign.trigger,
            "segments": campaign.description,
        },
        columns=list(FUNNEL_COLUMNS),
    ).astype({"customers": "int64"})
    log.info(
        "campaign %s: %d in %s, %d consented, %d after suppression, %d target, %d control",
        campaign.name,
        counts["in_segment"],
        words,
        counts["consented"],
        counts["not_capped"],
        counts["target"],
        counts["control"],
    )
    for note in notes:
        log.info("campaign %s: %s", campaign.name, note)
    return Audience(
        campaign=campaign,
        export=export,
        funnel=funnel,
        notes=tuple(notes),
        as_of_date=as_of,
        baseline_date=baseline,
        seed=seed,
    )


def lookalike_seed(
    engine: Engine,
    *,
    members: pd.DataFrame,
    label: str,
    label_column: str = "segment",
    suppression: pd.DataFrame | None = None,
    customers: str = "customers",
    events: str = "events",
) -> pd.DataFrame:
    """A look-alike seed audience for media platforms: the members of one (high-value) label.

    Transforms *members* (one row per customer: customer_id and ``label_column``) into one row
    per seed customer: *customer_id, segment, reason*, sorted by customer_id. The rule: a member
    with ``label`` is exported when they are **not on the suppression list** and **still have
    at least one channel consent that was not withdrawn** (a true ``<channel>_opt_in`` at signup
    with no ``unsubscribe`` event on that channel). A customer who never consented or withdrew
    every consent is never exported. Every unsubscribe in ``events`` counts, whatever its date
    (fail closed). No customers table means no consent: nobody is exported. Without an events
    table consent is the signup flags only. Recency and frequency caps do not apply (a seed is
    not a contact).

    The counts (``in_segment``, ``consented``, ``not_suppressed``) and notes are kept in
    ``frame.attrs["funnel"]`` and ``frame.attrs["notes"]`` for :func:`write_exports`.

    Parameters
    ----------
    engine : Engine
    members : pd.DataFrame
        One row per customer.
    label : str
        The label to seed from (the highest-value segment, chosen by the caller).
    label_column : str, default "segment"
    suppression : pd.DataFrame, optional
        A *customer_id* column.
    customers, events : str
        View names.

    Returns
    -------
    pd.DataFrame
        Columns :data:`LOOKALIKE_COLUMNS`.
    """
    member_rows = _prepare_members(members, label_column, table_name="members")
    notes: list[str] = []
    if engine.has_table(customers):
        require_view(engine, customers, ("customer_id",), producer="01_ingest")
        customers_sql = customers
        opt_ins = {}
        for channel in CHANNELS:
            opt_ins[channel], note = _opt_in_sql(engine, customers, channel)
            if note:
                notes.append(note)
    else:
        customers_sql = _EMPTY_IDS
        opt_ins = dict.fromkeys(CHANNELS, _NO_CONSENT)
        notes.append(f"no {customers} table: consent is unknown, so nobody is exported")
    if engine.has_table(events):
        require_view(engine, events, ("customer_id", "channel", "event_type"), producer="01_ingest")
        events_sql = events
    else:
        events_sql = _EMPTY_EVENTS
        notes.append(f"no {events} table: consent is the signup opt-in only")
    frames = {"members": member_rows, "suppression": _prepare_suppression(suppression)}
    with _registered(engine, frames) as views:
        flags = engine.query(
            "activation_lookalike",
            {"label": str(label)},
            identifiers={
                "members": views["members"],
                "customers": customers_sql,
                "email_opt_in": opt_ins["email"],
                "sms_opt_in": opt_ins["sms"],
                "push_opt_in": opt_ins["push"],
                "events": events_sql,
                "suppression": views.get("suppression", _EMPTY_IDS),
            },
        )
    reachable = flags["reachable"].astype("bool").to_numpy()
    kept = reachable & ~flags["suppressed"].astype("bool").to_numpy()
    seed_rows = flags[kept]
    frame = pd.DataFrame(
        {
            "customer_id": seed_rows["customer_id"].astype("str").to_numpy(),
            "segment": str(label),
            "reason": f"in {_label_words(label_column)} {label} (look-alike seed)",
        },
        columns=list(LOOKALIKE_COLUMNS),
    ).astype("str")
    frame.attrs["funnel"] = {
        "in_segment": len(flags),
        "consented": int(reachable.sum()),
        "not_suppressed": int(kept.sum()),
    }
    frame.attrs["notes"] = list(notes)
    log.info(
        "look-alike seed %s: %d members, %d with a live consent, %d exported",
        label,
        len(flags),
        int(reachable.sum()),
        int(kept.sum()),
    )
    return frame


# -- writing ---------------------------------------------------------------------------------
def _write_csv_atomic(path: Path, frame: pd.DataFrame) -> Path:
    """Write a CSV so a reader never sees half a file; the same frame gives the same bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
            frame.to_csv(stream, index=False, lineterminator="\n")
        os.chmod(temp, 0o644)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return path


def _campaign_manifest(audience: Audience) -> dict[str, Any]:
    campaign = audience.campaign
    counts = dict(zip(audience.funnel["step"], audience.funnel["customers"], strict=True))
    settings = dataclasses.asdict(campaign)
    settings.pop("name")
    return {
        "campaign": campaign.name,
        "file": f"{campaign.name}.csv",
        "as_of_date": audience.as_of_date,
        "baseline_date": audience.baseline_date,
        "seed": audience.seed,
        **settings,
        "funnel": {step: int(counts[step]) for step in FUNNEL_STEPS},
        "rows": len(audience.export),
        "control_share_requested": campaign.control_share,
        "control_share_realised": audience.realised_control_share,
        "notes": list(audience.notes),
    }


def write_exports(
    run: RunFolder,
    audiences: Sequence[Audience],
    *,
    lookalike: pd.DataFrame | None = None,
    lookalike_name: str = "lookalike_seed",
    manifest_name: str = _MANIFEST,
) -> pd.DataFrame:
    """Write the activation lists and their manifest to ``<run>/exports/``.

    Writes ``exports/<campaign>.csv`` per audience (:data:`EXPORT_COLUMNS`, sorted by
    customer_id, UTF-8, ``\\n`` line ends: identical inputs give byte-identical files),
    ``exports/<lookalike_name>.csv`` when ``lookalike`` is given, and ``exports/manifest.json``:
    per campaign its settings, as_of and baseline dates, seed, funnel counts, rows, control share
    requested and realised, and notes; for the look-alike seed its counts and notes. The manifest
    holds counts and labels only, never a customer id. Every file is written to a temporary name
    and renamed. Exports listed in a previous manifest of this folder but not written now are
    removed, so a stale list is never picked up by a CRM tool.

    Parameters
    ----------
    run : RunFolder
    audiences : sequence of Audience
        From :func:`build_audience`; campaign names must be unique.
    lookalike : pd.DataFrame, optional
        From :func:`lookalike_seed`.
    lookalike_name : str, default "lookalike_seed"
        File name (a slug) of the look-alike export.
    manifest_name : str, default "manifest"
        File name (a slug) of the manifest. Each stage that exports keeps its own manifest
        (04_segments ``manifest``, 06_churn ``churn_manifest``), so one stage's stale-file
        clean-up never removes another stage's lists.

    Returns
    -------
    pd.DataFrame
        The funnels of every campaign (:data:`FUNNEL_COLUMNS`), for the report.
    """
    names = [audience.campaign.name for audience in audiences]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(f"campaign {repeated[0]!r}: two audiences have this name")
    if not _SLUG.match(manifest_name) or manifest_name in names:
        raise ValueError(f"manifest_name {manifest_name!r}: expected a slug that no campaign uses")
    if lookalike is not None:
        if not _SLUG.match(lookalike_name) or lookalike_name == manifest_name:
            raise ValueError(f"lookalike_name {lookalike_name!r} is not a slug for a file name")
        if lookalike_name in names:
            raise ValueError(
                f"campaign {lookalike_name!r}: clashes with lookalike_name {lookalike_name!r}"
            )
        require_columns(lookalike, list(LOOKALIKE_COLUMNS), table_name="lookalike")
    exports_dir = run.exports_dir
    written: list[str] = []
    for audience in audiences:
        export = audience.export[list(EXPORT_COLUMNS)].sort_values(
            "customer_id", kind="stable", ignore_index=True
        )
        _write_csv_atomic(exports_dir / f"{audience.campaign.name}.csv", export)
        written.append(f"{audience.campaign.name}.csv")
    lookalike_entry: dict[str, Any] | None = None
    if lookalike is not None:
        seed_rows = lookalike[list(LOOKALIKE_COLUMNS)].sort_values(
            "customer_id", kind="stable", ignore_index=True
        )
        _write_csv_atomic(exports_dir / f"{lookalike_name}.csv", seed_rows)
        written.append(f"{lookalike_name}.csv")
        lookalike_entry = {
            "file": f"{lookalike_name}.csv",
            "segments": sorted(seed_rows["segment"].astype("str").unique().tolist()),
            "rows": len(seed_rows),
            "funnel": dict(lookalike.attrs.get("funnel", {})),
            "notes": list(lookalike.attrs.get("notes", [])),
        }
    manifest_path = exports_dir / f"{manifest_name}.json"
    _remove_stale(manifest_path, keep=set(written))
    write_json_atomic(
        manifest_path,
        {
            "campaigns": [_campaign_manifest(audience) for audience in audiences],
            "lookalike": lookalike_entry,
        },
    )
    log.info("wrote %d activation lists and %s", len(written), manifest_path.name)
    funnels = [audience.funnel for audience in audiences]
    if not funnels:
        return pd.DataFrame(columns=list(FUNNEL_COLUMNS)).astype({"customers": "int64"})
    return pd.concat(funnels, ignore_index=True)


def _remove_stale(manifest_path: Path, *, keep: set[str]) -> None:
    """Delete the exports a previous manifest listed that are not being written now."""
    if not manifest_path.is_file():
        return
    previous = read_json(manifest_path)
    listed = [entry.get("file") for entry in previous.get("campaigns", [])]
    if previous.get("lookalike"):
        listed.append(previous["lookalike"].get("file"))
    for name in listed:
        if isinstance(name, str) and name not in keep and _SLUG.match(name.removesuffix(".csv")):
            stale = manifest_path.parent / name
            if stale.is_file():
                stale.unlink()
                log.info("removed stale export %s", name)


# -- report ----------------------------------------------------------------------------------
def _with_noun(words: str | None, noun: str, plural: str | None = None) -> str:
    """``"12 recent buyers"``, ``"1 recent buyer"``; a hidden count reads ``"some ..."``."""
    many = plural or noun + "s"
    if words is None:
        return f"some {many}"
    return f"{words} {noun if words == '1' else many}"


def describe_activation(funnel: pd.DataFrame, *, min_cell_size: int = MIN_CELL_SIZE) -> str:
    """Markdown: one bullet per campaign with its funnel in words, counts only.

    A count from 1 to ``min_cell_size - 1`` reads "fewer than 10"; where a stated count and
    the total it adds up to would reveal such a count (target + control = the customers
    left after suppression; the customers removed by each suppression rule), the next
    smallest is not stated either: "the rest targeted", "some recent buyers"
    (:meth:`crmlib.privacy.SmallCells.words`).

    Parameters
    ----------
    funnel : pd.DataFrame
        *campaign, step, customers* (and optionally *channel, trigger, segments*), as returned
        by :func:`write_exports` or :attr:`Audience.funnel`.
    min_cell_size : int, default MIN_CELL_SIZE
        The run's ``privacy.min_cell_size``.

    Returns
    -------
    str

    Examples
    --------
    >>> steps = dict(in_segment=1234, consented=612, not_suppressed=600,
    ...              no_recent_purchase=575, not_capped=560, target=504, control=56)
    >>> funnel = pd.DataFrame({"campaign": "winback-email", "step": list(steps),
    ...     "customers": list(steps.values()), "channel": "email", "trigger": "entered",
    ...     "segments": "At risk"})
    >>> print(describe_activation(funnel))
    - **winback-email**: 1,234 customers entered At risk; 612 consented to email, 560 after suppression (12 on the suppression list, 25 recent buyers, 15 frequency-capped); 504 targeted, 56 held out as control.
    >>> small = funnel.assign(customers=[1234, 612, 605, 580, 580, 575, 5])
    >>> print(describe_activation(small))
    - **winback-email**: 1,234 customers entered At risk; 612 consented to email, 580 after suppression (fewer than 10 on the suppression list, some recent buyers); the rest targeted, fewer than 10 held out as control.
    """
    require_columns(funnel, ["campaign", "step", "customers"], table_name="funnel")
    if funnel.empty:
        return "No activation campaign is configured."
    lines = []
    for campaign, rows in funnel.groupby("campaign", sort=False):
        counts = {
            str(step): int(n) for step, n in zip(rows["step"], rows["customers"], strict=True)
        }
        missing = [step for step in FUNNEL_STEPS if step not in counts]
        if missing:
            raise DataContractError(f"funnel: campaign {campaign!r} has no step {missing[0]!r}")
        first = rows.iloc[0]
        targets = str(first["segments"]) if "segments" in rows else "the target segments"
        channel = str(first["channel"]) if "channel" in rows else "the channel"
        entered = "trigger" in rows and first["trigger"] == "entered"
        verb = "entered" if entered else "in"
        if counts["in_segment"] == 0:
            who = "entered" if entered else "is in"
            lines.append(f"- **{campaign}**: no customer {who} {targets}; nothing to export.")
            continue
        dropped = {
            "suppressed": counts["consented"] - counts["not_suppressed"],
            "recent": counts["not_suppressed"] - counts["no_recent_purchase"],
            "capped": counts["no_recent_purchase"] - counts["not_capped"],
        }
        words = SmallCells(min_cell_size).words(
            {
                "in_segment": counts["in_segment"],
                "consented": counts["consented"],
                "not_capped": counts["not_capped"],
                "target": counts["target"],
                "control": counts["control"],
                "dropped": sum(dropped.values()),
                **dropped,
            },
            parts={"not_capped": ["target", "control"], "dropped": list(dropped)},
        )
        detail = ", ".join(
            phrase
            for step, phrase in (
                ("suppressed", f"{words['suppressed'] or 'some'} on the suppression list"),
                ("recent", _with_noun(words["recent"], "recent buyer")),
                ("capped", f"{words['capped'] or 'some'} frequency-capped"),
            )
            if dropped[step]
        )
        lines.append(
            f"- **{campaign}**: {_with_noun(words['in_segment'], 'customer')} {verb} {targets}; "
            f"{words['consented'] or 'some'} consented to {channel}, "
            f"{words['not_capped'] or 'some'} after "
            f"suppression{f' ({detail})' if detail else ''}; "
            f"{words['target'] or 'the rest'} targeted, "
            f"{words['control'] or 'the rest'} held out as control."
        )
    return "\n".join(lines)
