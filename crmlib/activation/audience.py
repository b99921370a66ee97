"""Activation audiences: trigger, consent and suppression rules in SQL, then target and control."""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import pandas as pd

from crmlib.activation.campaigns import CHANNELS, Campaign, _is_int
from crmlib.checks import require_columns, require_view
from crmlib.config import DEFAULTS
from crmlib.engine import Engine, quote_identifier
from crmlib.errors import DataContractError
from crmlib.periods import as_date, exclusive_end

__all__ = [
    "FUNNEL_STEPS",
    "EXPORT_COLUMNS",
    "LOOKALIKE_COLUMNS",
    "FUNNEL_COLUMNS",
    "Audience",
    "build_audience",
    "lookalike_seed",
]

log = logging.getLogger(__name__)

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


# -- inputs ----------------------------------------------------------------------------------
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
            engine.unregister(name)


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
    lookback_days: int = DEFAULTS.segments.migration_lookback_days,
    suppression: pd.DataFrame | None = None,
    seed: int = DEFAULTS.seed,
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
    lookback_days : int, default ``segments.migration_lookback_days``
        See ``previous_as_of_date``.
    suppression : pd.DataFrame, optional
        A *customer_id* column (as from :func:`load_suppression_list`); None = no list.
    seed : int, default the params file's ``seed`` default
        Seed of the control draw (the run's ``seed``).
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
