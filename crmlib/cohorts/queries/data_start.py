"""Where the data begin, and whether the first cohort is the customers present at the start."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from crmlib.checks import require_view
from crmlib.cohorts.queries.grid import COHORT_BASES, _period_start, _periods_between
from crmlib.config import DEFAULTS
from crmlib.engine import Engine
from crmlib.facts import purchase_facts
from crmlib.formatting import format_figure
from crmlib.periods import as_date, check_period, exclusive_end, period_index, period_spine
from crmlib.privacy import HIDDEN, MIN_CELL_SIZE, SmallCells

__all__ = ["FIRST_COHORT_RULES", "PRESENT_AT_START", "DataStart", "data_start"]

log = logging.getLogger(__name__)

#: Values of ``first_cohort`` (params ``cohorts.first_cohort``): decide from the data, or declare.
FIRST_COHORT_RULES: tuple[str, ...] = ("auto", "new_customers", "present_at_start")
#: The tag of a cohort label whose customers were already there when the data begin.
PRESENT_AT_START = "(present at start)"

#: The first cohort is compared with up to this many following (non-empty) cohorts.
_NEXT_COHORTS = 6
#: Signup evidence counts when at least this share of the first cohort has a signup date.
_SIGNUP_KNOWN_MIN = 0.5
#: The first cohort is new customers when its share signed up before the data begin exceeds the
#: following cohorts' share signed up before their own period by at most this much.
_SIGNUP_MARGIN = 0.10
#: From this ratio of customers per day (first cohort vs the following ones) the first cohort
#: reads "much larger" in the page.
_LARGE_RATIO = 1.5
#: An empty customers relation with the columns the signup evidence reads.
_NO_SIGNUPS = (
    "(SELECT CAST(NULL AS VARCHAR) AS customer_id, CAST(NULL AS TIMESTAMP) AS signup_ts "
    "WHERE FALSE)"
)


@dataclass(frozen=True)
class DataStart:
    """The data's first day and the cohorts whose customers were already there at that day.

    ``flagged`` lists the cohort starts treated as *the customers present at the start*
    (left-censored): labelled ``≤ 2024-01 (present at start)`` (first-order cohorts) or
    ``2023-06 (present at start)`` (signup cohorts), shown in the matrices and left out of
    every comparison of acquisition cohorts. ``reason`` says what decided: ``"params"``
    (``first_cohort`` declared), ``"signups"`` (customers.signup_ts), ``"no_evidence"``
    (the default: flagged by construction), ``"signup_basis"`` (signups dated before the
    data), or ``"no_data"``.
    """

    data_start: dt.date | None
    period: str
    cohort_basis: str
    first_cohort: str
    reason: str
    flagged: tuple[dt.date, ...] = ()
    #: the first cohort (first-order basis) and its period label and size
    first_start: dt.date | None = None
    first_label: str | None = None
    first_size: int = 0
    #: customers flagged in all (every flagged cohort)
    flagged_customers: int = 0
    #: first cohort's customers per day covered / the median of the next cohorts'
    size_ratio: float | None = None
    next_cohorts: int = 0
    #: share of the first cohort with a signup date; of those, share signed up before the data
    signup_known: float | None = None
    signed_up_before: float | None = None
    #: share of the next cohorts' members (with a signup date) signed up before their period
    signed_up_before_next: float | None = None
    #: the second cohort, when it too likely holds customers who were already there: its
    #: label, its share signed up before the data begin, its customers per day over the median
    #: of the cohorts after it
    second_label: str | None = None
    second_signed_up_before_data: float | None = None
    second_size_ratio: float | None = None
    #: customers with a signup date, each share above rests on: in the first cohort, in the
    #: next cohorts, in the second cohort (the page hides a share of a small group)
    first_with_signup: int = 0
    next_with_signup: int = 0
    second_with_signup: int = 0

    @property
    def present_at_start(self) -> bool:
        """Whether any cohort is treated as the customers present at the start."""
        return bool(self.flagged)

    def label_for(self, label: str) -> str:
        """The label of a flagged cohort: ``≤ 2024-01 (present at start)`` or ``2023-06 (...)``."""
        prefix = "\u2264 " if self.cohort_basis == "first_order" else ""
        return f"{prefix}{label} {PRESENT_AT_START}"

    def flagged_labels(self) -> list[str]:
        """The labels of the flagged cohorts, oldest first."""
        if not self.flagged:
            return []
        spine = period_spine(min(self.flagged), max(self.flagged), period=self.period)
        lookup = dict(zip(spine["period_start"], spine["period_label"], strict=True))
        return [self.label_for(str(lookup[start])) for start in sorted(self.flagged)]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready figures for ``metrics.json`` (no customer identifiers)."""
        return {
            "data_start": None if self.data_start is None else self.data_start.isoformat(),
            "first_cohort_rule": self.first_cohort,
            "reason": self.reason,
            "present_at_start": self.present_at_start,
            "cohorts_left_out": self.flagged_labels(),
            "customers_left_out": int(self.flagged_customers),
            "first_cohort_size": int(self.first_size),
            "size_ratio": self.size_ratio,
            "signup_known": self.signup_known,
            "signed_up_before": self.signed_up_before,
            "signed_up_before_next": self.signed_up_before_next,
            "second_cohort_caveat": self.second_label,
        }

    def describe(
        self, *, unit: str = DEFAULTS.cohorts.period, min_cell_size: int = MIN_CELL_SIZE
    ) -> str:
        """Markdown for the page: where the data begin and what that means for the cohorts.

        Counts of fewer than ``min_cell_size`` customers read "fewer than 10 customers", and a
        share of a group that small reads "–" (:class:`crmlib.privacy.SmallCells`).
        """
        if self.data_start is None or (self.first_label is None and self.cohort_basis != "signup"):
            return ""
        rule = SmallCells(min_cell_size)
        begin = f"The data begin on {self.data_start.isoformat()}"
        if self.cohort_basis == "signup":
            return self._describe_signup(begin, unit=unit, rule=rule)
        size = self._size_sentence(rule)
        if not self.present_at_start:
            why = (
                "the params file declares that its customers were new when the data begin "
                "(`cohorts.first_cohort: new_customers`: the data begin with the business, or "
                "follow a panel of first-time buyers)."
                if self.reason == "params"
                else self._signup_sentence(rule, new=True)
            )
            return (
                f"{begin}. The first cohort, {self.first_label}, is read as an acquisition "
                f"cohort like the others: {why}{size}"
            )
        label = self.label_for(str(self.first_label))
        why = {
            "params": " The params file declares it (`cohorts.first_cohort: present_at_start`).",
            "signups": " Signup dates confirm it: " + self._signup_sentence(rule, new=False),
        }.get(self.reason, "")
        text = (
            f"**The first cohort is the customers present at the start.** {begin}, so every "
            f"customer who bought in {self.first_label} falls in the first cohort, including "
            f"customers who had been buying before the data begin: it is labelled **{label}**, "
            f"not an acquisition cohort.{why}{size} It is shown in the matrices but left out of "
            "the trend test (*do newer cohorts retain better?*), of the comparisons of newer "
            "and older cohorts and of the figures pooled over cohorts."
        )
        if self.reason == "no_evidence":
            text += (
                " Nothing in the data shows that they begin with the business (there are no "
                "signup dates to check against): if they do, set "
                "`cohorts.first_cohort: new_customers` in the params file."
            )
        return text + self._second_sentence(rule)

    def _size_sentence(self, rule: SmallCells) -> str:
        if self.size_ratio is None or self.next_cohorts == 0:
            return ""
        others = "cohort" if self.next_cohorts == 1 else f"{self.next_cohorts} cohorts"
        size = rule.phrase(self.first_size)
        text = (
            f" It holds {size}, {self.size_ratio:.1f} times as many per day as in the next {others}"
            if rule.is_small(self.first_size)
            else f" Its {size} are {self.size_ratio:.1f} times as many per day as in the next "
            f"{others}"
        )
        if self.size_ratio >= _LARGE_RATIO:
            return text + (
                ", as expected when it also holds everyone who was already a customer."
                if self.present_at_start
                else " (a large first cohort, e.g. a launch)."
            )
        if self.present_at_start and self.reason == "no_evidence":
            return text + ": not larger, which would also fit data that begin with the business."
        return text + "."

    def _signup_sentence(self, rule: SmallCells, *, new: bool) -> str:
        share = _share_text(self.signed_up_before, self.first_with_signup, rule)
        later = _share_text(self.signed_up_before_next, self.next_with_signup, rule)
        known = _share_text(self.signup_known, self.first_size, rule)
        compare = (
            f"against {later} of the next cohorts' customers who signed up before their own "
            f"{self.period}"
            if self.signed_up_before_next is not None
            else "with no later cohort to compare"
        )
        sizes = [self.first_with_signup, self.first_size]
        if self.signed_up_before_next is not None:
            sizes.append(self.next_with_signup)
        return (
            f"{share} of its customers with a signup date ({known} of them have one) signed up "
            f"before the data begin, {compare}"
            + (", so its customers were new." if new else ".")
            + _hidden_share_note(sizes, rule)
        )

    def _second_sentence(self, rule: SmallCells) -> str:
        if self.second_label is None:
            return ""
        second_share = _share_text(self.second_signed_up_before_data, self.second_with_signup, rule)
        evidence = (
            f"{second_share} of its customers with a signup date signed up before the data begin"
            if self.second_signed_up_before_data is not None
            else f"it has {self.second_size_ratio:.1f} times as many customers per day as the "
            "cohorts after it"
        )
        sizes = [self.second_with_signup] if self.second_signed_up_before_data is not None else []
        return (
            f" The next cohort, {self.second_label}, likely holds some such customers too (first "
            f"seen buying then): {evidence}. Read the earliest cohorts with care."
            + _hidden_share_note(sizes, rule)
        )

    def _describe_signup(self, begin: str, *, unit: str, rule: SmallCells) -> str:
        if not self.flagged:
            if self.reason == "params":
                return (
                    f"{begin}. The params file declares that customers who signed up before "
                    "then had no purchases before the data begin (`cohorts.first_cohort: "
                    "new_customers`), so every signup cohort is read as observed from its start."
                )
            return f"{begin}; no customer in a cohort signed up before then."
        labels = self.flagged_labels()
        plain = [label.removesuffix(f" {PRESENT_AT_START}") for label in labels]
        span = plain[0] if len(plain) == 1 else f"{plain[0]} to {plain[-1]}"
        many = len(labels) != 1
        return (
            f"**Cohorts that signed up before the data begin are the customers present at the "
            f"start.** {begin}: in {len(labels)} cohort{'s' if many else ''} ({span}, "
            f"{rule.phrase(self.flagged_customers)}) all or many customers signed up "
            "before that day, and their purchases before it are not in the data. Their "
            f"{unit}s before the data begin are blank, and {'they are' if many else 'it is'} "
            "shown in the matrices but left out of the trend test (*do newer cohorts retain "
            "better?*), of the comparisons of newer and older cohorts and of the figures pooled "
            "over cohorts."
        )


def data_start(
    engine: Engine,
    *,
    as_of_date: dt.date | str,
    period: str = DEFAULTS.cohorts.period,
    cohort_basis: str = DEFAULTS.cohorts.cohort_basis,
    first_cohort: str = DEFAULTS.cohorts.first_cohort,
    transactions: str = "transactions",
    customers: str = "customers",
) -> DataStart:
    """Where the data begin, and which cohorts hold the customers present at the start.

    An export that starts in the middle of a business's history puts every customer who was
    already buying into the first period's "acquisition cohort" (left-censoring): that
    cohort is not new customers, and comparing it with later cohorts reads as "newer cohorts
    retain worse". This finds the data's first day (the earliest ``order_ts`` of any
    transactions row up to ``as_of_date``) and decides which cohorts to treat as *the
    customers present at the start*.

    Rule, with ``cohort_basis="first_order"`` (the cohort is the period of the first
    purchase in the data; the first cohort is the one whose period holds the data's first
    purchase, by construction the period the data begin in):

    1. ``first_cohort="new_customers"`` or ``"present_at_start"`` (params
       ``cohorts.first_cohort``) declares it: what the user knows about the source wins.
    2. ``"auto"``: the first cohort is the customers present at the start **unless signup
       dates show it is new customers**: ``customers.signup_ts`` is known for at least half
       of its members, and the share of them who signed up before the data's first day is
       at most 10 percentage points above the share of the next (up to 6 non-empty)
       cohorts' members who signed up before their own cohort period (the business's usual
       signup-to-first-purchase lag). A new business's first cohort signed up no earlier
       than its later cohorts did; an established one's first cohort is mostly old
       accounts.
    3. Without that evidence (no customers table, no signup dates) the first cohort is
       flagged: a data set's first day is not known to be the business's.

    The size signal (first cohort's customers per day covered over the median of the next
    up to 6 non-empty cohorts') is reported, not used to decide: a large first cohort fits
    both left-censoring and a launch, and a normal one fits a business with few repeat
    customers per period as well as a new one. When the first cohort is flagged, the page
    also warns when the second cohort likely holds customers who were there before the data
    (10% or more of it signed up before the data begin, or, without signup dates, at least
    1.5 times as many customers per day as the cohorts after it): left-censoring fades over
    the first cohorts rather than stopping at one.

    With ``cohort_basis="signup"`` dates are known: a signup cohort is flagged when at least
    10% of its customers signed up before the data's first day (every cohort whose period
    ends before it; the cohort whose period holds it when the data begin well into that
    period), since their purchases before that day are unseen. The matrices mark the periods
    of flagged cohorts that end before the data's first period as unobserved (blank).
    ``first_cohort="new_customers"`` declares instead that such customers had no purchases
    before the data (signups ahead of a launch); ``"present_at_start"`` is then the same as
    ``"auto"``.

    Parameters
    ----------
    engine : Engine
        With ``transactions`` registered (and ``customers``, for signup dates).
    as_of_date : date or str
        Last day covered (inclusive); cohorts count complete periods only.
    period : {"week", "month", "quarter"}, default ``cohorts.period``
    cohort_basis : {"first_order", "signup"}, default ``cohorts.cohort_basis``
    first_cohort : {"auto", "new_customers", "present_at_start"}, default ``cohorts.first_cohort``
    transactions, customers : str
        View names.

    Returns
    -------
    DataStart
        ``flagged`` is empty when no cohort holds customers present at the start.

    Raises
    ------
    ValueError
        An unknown ``period``, ``cohort_basis`` or ``first_cohort``.
    DataContractError
        A needed column is missing (the message names table and column).
    """
    period = check_period(period)
    if cohort_basis not in COHORT_BASES:
        raise ValueError(f"cohort_basis={cohort_basis!r}: expected one of {COHORT_BASES}")
    _check_rule(first_cohort)
    require_view(
        engine, transactions, ("customer_id", "order_ts", "is_purchase"), producer="01_ingest"
    )
    as_of = as_date(as_of_date)
    found = engine.query(
        "cohorts_data_start",
        {"end_ts": exclusive_end(as_of)},
        identifiers={"transactions": transactions},
    )
    first_ts = found["data_start"].iloc[0]
    if pd.isna(first_ts):
        return DataStart(None, period, cohort_basis, first_cohort, reason="no_data")
    first_day = pd.Timestamp(first_ts).date()
    complete_end = _period_start(as_of + dt.timedelta(days=1), period)
    first_period = period_index(first_day, first_day, period)[0]
    cutoff = min(pd.Timestamp((first_period + 1 + _NEXT_COHORTS).start_time).date(), complete_end)
    params = {
        "period": period,
        "cutoff_ts": dt.datetime.combine(cutoff, dt.time()),
        "data_start_ts": dt.datetime.combine(first_day, dt.time()),
    }
    if cohort_basis == "signup":
        require_view(engine, customers, ("customer_id", "signup_ts"), producer="01_ingest")
        early = engine.query("cohorts_start_signup", params, identifiers={"customers": customers})
    else:
        has_signups = engine.has_table(customers) and "signup_ts" in engine.column_types(customers)
        with purchase_facts(engine, transactions=transactions) as facts:
            early = engine.query(
                "cohorts_start_first_order",
                params,
                identifiers={
                    "customer_facts": facts["customer_facts"],
                    "customers": customers if has_signups else _NO_SIGNUPS,
                },
            )
    early["cohort_start"] = pd.to_datetime(early["cohort_start"]).dt.date
    start = _decide(
        early,
        data_start=first_day,
        period=period,
        cohort_basis=cohort_basis,
        first_cohort=first_cohort,
    )
    log.info(
        "data start %s: %s cohorts present at start (%s)",
        first_day,
        len(start.flagged),
        start.reason,
    )
    return start


def _check_rule(first_cohort: str) -> None:
    """A ValueError naming the params key when ``first_cohort`` is not a known rule."""
    if first_cohort not in FIRST_COHORT_RULES:
        raise ValueError(
            f"first_cohort={first_cohort!r} (params cohorts.first_cohort): expected one of "
            f"{FIRST_COHORT_RULES}"
        )


def _per_day(early: pd.DataFrame, *, data_start: dt.date, period: str) -> pd.Series:
    """Customers per day each cohort's period covers (from the data's first day on)."""
    starts = pd.to_datetime(early["cohort_start"])
    ends = pd.DatetimeIndex(starts).to_period(period_index(data_start, data_start, period).freq)
    last_day = pd.Series(ends.end_time.normalize(), index=early.index)
    first_day = starts.where(starts >= pd.Timestamp(data_start), pd.Timestamp(data_start))
    days = (last_day - first_day).dt.days + 1
    return early["customers"].astype("float64") / days.clip(lower=1).astype("float64")


def _label(start: dt.date, period: str) -> str:
    """The period label (``2025-03``, ``2025-W10``, ``2025-Q1``) of the period starting ``start``."""
    return str(period_spine(start, start, period=period)["period_label"].iloc[0])


def _share(part: float, whole: float) -> float | None:
    return part / whole if whole > 0 else None


def _share_text(share: float | None, customers: int, rule: SmallCells) -> str:
    """A share for the page: ``"–"`` when the group it is computed on is small."""
    return HIDDEN if rule.is_small(customers) else format_figure(share, "rate")


def _hidden_share_note(sizes: list[int], rule: SmallCells) -> str:
    """The note that ends a sentence whose shares rest on ``sizes`` customers, when one is
    hidden (:func:`_share_text`); nothing otherwise."""
    if not rule.is_small(sizes).any():
        return ""
    return f" ({HIDDEN}: a share of fewer than {rule.min_cell_size:,} customers, not shown.)"


def _second_caveat(
    early: pd.DataFrame, rates: pd.Series, *, period: str
) -> tuple[str | None, float | None, float | None]:
    """Whether the second cohort too likely holds customers who were there before the data.

    Signup dates (known for at least half of it): 10% or more of it signed up before the data
    begin. Otherwise size: its customers per day are at least :data:`_LARGE_RATIO` times the
    median of the (at least two) early cohorts after it. Returns (label or None, share, ratio).
    """
    if len(early) < 2:
        return None, None, None
    second = early.iloc[1]
    if float(second["with_signup"]) >= _SIGNUP_KNOWN_MIN * float(second["customers"]):
        share = _share(float(second["signed_up_before_data"]), float(second["with_signup"]))
        if share is not None and share >= _SIGNUP_MARGIN:
            return _label(second["cohort_start"], period), share, None
        return None, None, None
    after = rates.iloc[2:]
    if len(after) < 2 or float(np.median(after)) <= 0:
        return None, None, None
    ratio = float(rates.iloc[1]) / float(np.median(after))
    if ratio >= _LARGE_RATIO:
        return _label(second["cohort_start"], period), None, ratio
    return None, None, None


def _decide(
    early: pd.DataFrame,
    *,
    data_start: dt.date,
    period: str,
    cohort_basis: str,
    first_cohort: str,
) -> DataStart:
    """The rule of :func:`data_start` on its per-cohort evidence.

    ``early``: one row per cohort starting before the cutoff (*cohort_start, customers,
    with_signup, signed_up_before, signed_up_before_data*).
    """
    early = early[early["customers"] > 0].sort_values("cohort_start", ignore_index=True)
    if early.empty:
        return DataStart(data_start, period, cohort_basis, first_cohort, reason="no_data")
    if cohort_basis == "signup":
        share = early["signed_up_before_data"] / early["customers"]
        before = early[share >= _SIGNUP_MARGIN]
        flagged = () if first_cohort == "new_customers" else tuple(before["cohort_start"])
        return DataStart(
            data_start,
            period,
            cohort_basis,
            first_cohort,
            reason="params" if first_cohort == "new_customers" else "signup_basis",
            flagged=flagged,
            flagged_customers=int(before["customers"].sum()) if flagged else 0,
        )
    early = early.iloc[: 1 + _NEXT_COHORTS]
    first, following = early.iloc[0], early.iloc[1:]
    rates = _per_day(early, data_start=data_start, period=period)
    reference = float(np.median(rates.iloc[1:])) if len(following) else 0.0
    size = int(first["customers"])
    known = float(first["with_signup"]) / size
    before = _share(float(first["signed_up_before"]), float(first["with_signup"]))
    next_known = float(following["with_signup"].sum())
    before_next = _share(float(following["signed_up_before"].sum()), next_known)
    if first_cohort != "auto":
        reason, present = "params", first_cohort == "present_at_start"
    elif known >= _SIGNUP_KNOWN_MIN and before is not None:
        reason, present = "signups", before > (before_next or 0.0) + _SIGNUP_MARGIN
    else:
        reason, present = "no_evidence", True
    second_label, second_share, second_ratio = (
        _second_caveat(early, rates, period=period) if present else (None, None, None)
    )
    return DataStart(
        data_start,
        period,
        cohort_basis,
        first_cohort,
        reason=reason,
        flagged=(first["cohort_start"],) if present else (),
        first_start=first["cohort_start"],
        first_label=_label(first["cohort_start"], period),
        first_size=size,
        flagged_customers=size if present else 0,
        size_ratio=float(rates.iloc[0]) / reference if reference > 0 else None,
        next_cohorts=len(following),
        signup_known=known,
        signed_up_before=before,
        signed_up_before_next=before_next,
        second_label=second_label,
        second_signed_up_before_data=second_share,
        second_size_ratio=second_ratio,
        first_with_signup=int(first["with_signup"]),
        next_with_signup=int(next_known),
        second_with_signup=int(early.iloc[1]["with_signup"]) if second_label else 0,
    )


def _mark(grid: pd.DataFrame, start: DataStart, *, period: str) -> pd.DataFrame:
    """Add *present_at_start*, relabel flagged cohorts, and mark periods before the data.

    ``grid`` has one row per cohort x ... (*cohort_start, cohort_label*, optionally
    *periods_since*). ``observed`` is False for the periods of a flagged signup cohort that
    end before the data's first period (their purchases are not in the data).
    """
    marked = grid.copy()
    flag = marked["cohort_start"].isin(set(start.flagged))
    marked["present_at_start"] = flag.astype("bool")
    if flag.any():
        marked.loc[flag, "cohort_label"] = marked.loc[flag, "cohort_label"].map(start.label_for)
    observed = pd.Series(True, index=marked.index)
    if flag.any() and start.cohort_basis == "signup" and "periods_since" in marked.columns:
        first = _period_start(start.data_start or marked["cohort_start"].min(), period)
        to_first = _periods_between(marked["cohort_start"], first, period)
        observed = ~(flag & (marked["periods_since"].to_numpy() < to_first))
    marked["observed"] = observed.astype("bool")
    return marked
