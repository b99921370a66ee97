"""The result of :func:`crmlib.synth.generate`: the contract tables, suppression list and truth."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

__all__ = ["SyntheticCRM"]


@dataclass(frozen=True)
class SyntheticCRM:
    """A generated CRM: the contract tables, the suppression list and the planted truth.

    Attributes
    ----------
    customers : pd.DataFrame
        One row per customer (the ``customers`` contract table), sorted by ``signup_ts``.
        Ids are ``str``, timestamps ``datetime64[s]``, low-cardinality text columns
        ``category`` dtype (in every table), ``birth_year`` nullable ``Int64``.
    transactions : pd.DataFrame
        One row per valid transaction row (orders, refunds, orphan refunds), sorted by
        ``order_ts``; ``amount`` is a float rounded to cents. The injected rows are kept
        apart in ``dirty_transactions`` because their text does not fit these types.
    events : pd.DataFrame
        One row per messaging event, sorted by ``event_ts``.
    assignments : pd.DataFrame
        One row per customer assigned to the experiment.
    truth : dict
        The planted parameters and realized counts (written as ``truth.json``).
    dirty_transactions : pd.DataFrame
        The injected rows (bad rows and valid ``unknown_customer`` orders) as the raw text
        written to ``transactions.csv``, plus ``reason`` and ``position`` (the index of the
        valid row they are written before) which are not written.
    suppression : pd.DataFrame
        The global do-not-contact list, one row per suppressed id: *customer_id, added_ts,
        reason*, sorted by ``added_ts``. About ``SUPPRESSION_SHARE`` (1%) of the customers
        plus ``SUPPRESSION_UNKNOWN_IDS`` (3) stale ids absent from ``customers``; drawn from
        its own random stream, so the other tables do not depend on it.
    latent : pd.DataFrame
        Planted per-customer truth for known-answer tests, one row per customer in the order
        of ``customers``: *customer_id, acquisition_channel, lambda_per_day, p_dropout,
        dropout_ts* (NaT while alive), *alive_at_end, spend_nu*. Never read by the workbook.
    surveys : pd.DataFrame
        One row per survey answer: *customer_id, response_ts, survey* (``nps``/``csat``),
        *score*; sorted by ``response_ts``. Drawn from its own random stream.
    marketing_spend : pd.DataFrame
        One row per day, acquisition channel and campaign: *date* (``datetime.date``),
        *acquisition_channel, spend, campaign* (missing for channels without campaigns).
        Drawn from its own random stream.
    """

    customers: pd.DataFrame
    transactions: pd.DataFrame
    events: pd.DataFrame
    assignments: pd.DataFrame
    truth: dict[str, Any]
    dirty_transactions: pd.DataFrame = field(default_factory=pd.DataFrame)
    suppression: pd.DataFrame = field(default_factory=pd.DataFrame)
    latent: pd.DataFrame = field(default_factory=pd.DataFrame)
    surveys: pd.DataFrame = field(default_factory=pd.DataFrame)
    marketing_spend: pd.DataFrame = field(default_factory=pd.DataFrame)
