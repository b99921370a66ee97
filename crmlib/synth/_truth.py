"""The planted truth of a generated CRM: parameters, planted effects and realized counts."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from crmlib.synth._constants import (
    AMOUNT_CAP,
    CATEGORIES,
    CHANNEL_PARAMS,
    CLUSTER_CUSTOMERS,
    CLUSTER_LOYALTY,
    EXPERIMENT,
    MSG_PARAMS,
    PLANTED_PAIRS,
    Q4_MULTIPLIER,
    REFUND_SHARE,
    SIGNUP_GROWTH,
    SUPPRESSION_REASON_P,
    SUPPRESSION_REASONS,
    SUPPRESSION_SHARE,
    SUPPRESSION_STREAM,
    VERSION,
)
from crmlib.synth._experiment import Experiment
from crmlib.synth._refunds import Refunds

__all__ = ["NEW_TABLE_NOTES", "build_truth", "realized_counts", "suppression_truth"]

NOTES = {
    "channel_expected_repeat_180d": "1 - (alpha / (alpha + 180 * 1.15)) ** r: P(2nd order within 180 days of the first), 1.15 = average seasonal rate multiplier",
    "n_orders": "clean positive rows of customers in customers.csv (excludes every injected row, including the valid unknown_customer orders)",
    "n_refund_rows": "clean negative rows: refunds of orders in the file plus orphan refunds",
    "gross_revenue": "sum of the clean positive rows (the n_orders orders; excludes every injected row)",
    "unknown_customer_revenue": "sum of the injected unknown_customer orders: valid, so ingest keeps them (accepted gross revenue = gross_revenue + unknown_customer_revenue)",
    "n_transaction_rows": "every data row of transactions.csv = n_orders + n_refund_rows + sum(dirty)",
    "suppression": "suppression.csv (never gzipped): round(share * n_customers) customers chosen uniformly at random plus n_unknown_ids stale ids absent from customers.csv; drawn from default_rng([seed, 1]), independent of every other table (events may be sent to suppressed customers)",
    "truth_customers": "truth_customers.csv: planted per-customer truth for tests (lambda_per_day, p_dropout, dropout_ts, alive_at_end, spend_nu), never read by the workbook; dropout_ts is the natural repeat purchase after which the customer dropped out, the only later orders are win-back orders induced by the experiment's treatment",
}

#: Notes on the survey and spend tables (version 4), added after the notes above.
NEW_TABLE_NOTES = {
    "surveys": "surveys.csv: NPS (0-10) and CSAT (1-5) answers, at most one of each per customer, drawn from default_rng([seed, 2]); the per-channel shares of NPS categories and CSAT scores are planted (truth.surveys.nps_p, csat_p) and satisfaction is tied to the planted p_dropout (truth.surveys.satisfaction_model): promoters drop out less",
    "marketing_spend": "marketing_spend.csv: spend per day, acquisition channel and campaign, drawn from default_rng([seed, 3]); spend through a channel over the window / its customers = the planted CAC (truth.marketing_spend.cac_planted) times the realized noise (realized cac in truth.marketing_spend.realized)",
}


def _corr(a: np.ndarray, b: np.ndarray) -> float | None:
    return float(np.corrcoef(a, b)[0, 1]) if a.size > 2 and a.std() > 0 and b.std() > 0 else None


def _expected_repeat_180d() -> dict[str, float]:
    """Per channel: P(2nd order within 180 days of the first), 1.15 = mean seasonal multiplier."""
    return {
        c: 1.0
        - (CHANNEL_PARAMS[c]["alpha"] / (CHANNEL_PARAMS[c]["alpha"] + 180.0 * 1.15))
        ** CHANNEL_PARAMS[c]["r"]
        for c in CHANNEL_PARAMS
    }


def _experiment_truth(
    experiment: Experiment, *, pre_spend: np.ndarray, outcome: np.ndarray
) -> dict[str, Any]:
    treated = experiment.treated
    return {
        "experiment_id": experiment.experiment_id,
        "assigned_ts": str(experiment.assigned_ts).replace("T", " "),
        "n_control": int((~treated).sum()),
        "n_treatment": int(treated.sum()),
        "cost_per_contact": EXPERIMENT["cost_per_contact"],
        "eligibility": "last order 60-180 days before assigned_ts",
        "outcome": "any positive order with assigned_ts < order_ts <= assigned_ts + 30 days",
        "planted_uplift_30d_repurchase": EXPERIMENT["uplift"],
        "baseline_30d_repurchase_expected": round(experiment.p0, 6),
        "realized_30d_repurchase": {
            "control": float(outcome[~treated].mean()) if (~treated).any() else None,
            "treatment": float(outcome[treated].mean()) if treated.any() else None,
        },
        "pre_period_days": EXPERIMENT["pre_period_days"],
        "pre_spend_outcome_corr": _corr(pre_spend, outcome.astype(float)),
    }


def realized_counts(
    transactions: pd.DataFrame,
    *,
    positive: np.ndarray,
    n_customers: int,
    n_dirty_rows: int,
    unknown_customer_revenue: float,
    n_events: int,
    n_assignments: int,
    n_alive_at_end: int,
) -> dict[str, Any]:
    """The ``realized`` section of the truth: row counts and revenue of the tables.

    ``unknown_customer_revenue`` is the summed amount of the injected ``unknown_customer``
    orders, which are valid rows outside ``transactions`` (kept by ingest).
    """
    amounts = transactions["amount"].to_numpy()
    return {
        "n_customers": n_customers,
        "n_orders": int(positive.sum()),
        "n_refund_rows": int((~positive).sum()),
        "n_transaction_rows": int(len(transactions) + n_dirty_rows),
        "gross_revenue": round(float(amounts[positive].sum()), 2),
        "refund_amount": round(float(amounts[~positive].sum()), 2),
        "unknown_customer_revenue": round(unknown_customer_revenue, 2),
        "n_events": n_events,
        "n_assignments": n_assignments,
        "n_alive_at_end": n_alive_at_end,
    }


def suppression_truth(suppression: pd.DataFrame, *, n_customers: int) -> dict[str, Any]:
    """The ``suppression`` section of the truth: the planted share and the realized rows."""
    numbers = suppression["customer_id"].str.slice(1).astype(np.int64).to_numpy()
    n_unknown = int((numbers > n_customers).sum())
    return {
        "share": SUPPRESSION_SHARE,
        "n_rows": int(len(suppression)),
        "n_customers": int(len(suppression)) - n_unknown,
        "n_unknown_ids": n_unknown,
        "reason_p": dict(zip(SUPPRESSION_REASONS, SUPPRESSION_REASON_P, strict=True)),
        "random_stream": f"np.random.default_rng([seed, {SUPPRESSION_STREAM}])",
    }


def build_truth(
    generator: dict[str, Any],
    *,
    refunds: Refunds,
    experiment: Experiment,
    pre_spend: np.ndarray,
    outcome: np.ndarray,
    campaigns: list[str],
    dirty_counts: dict[str, int],
    realized: dict[str, Any],
    suppression: pd.DataFrame,
) -> dict[str, Any]:
    """Everything planted and realized, as written to ``truth.json``.

    ``generator`` holds the arguments of :func:`crmlib.synth.generate` (``n_customers``,
    ``seed``, ``start``, ``end``, ``dirty_rate``); ``realized`` is :func:`realized_counts`;
    ``suppression`` is the drawn suppression list (see :func:`suppression_truth`).
    """
    channel_names = list(CHANNEL_PARAMS)
    p180 = _expected_repeat_180d()
    return {
        "generator": {**generator, "version": VERSION},
        "channels": {c: {k: float(v) for k, v in CHANNEL_PARAMS[c].items()} for c in channel_names},
        "channel_retention_rank": sorted(channel_names, key=lambda c: -p180[c]),
        "channel_expected_repeat_180d": {c: round(p180[c], 4) for c in channel_names},
        "notes": dict(NOTES),
        "refunds": {
            "planted_share": REFUND_SHARE,
            "n_refunded_orders": refunds.n_refunded,
            "n_orphan_refunds": refunds.n_orphans,
            "full_refund_share": 0.6,
            "max_delay_days": 30,
            "quantity_convention": "refund rows carry negative quantity: -quantity for full refunds, -ceil(quantity*fraction) for partial ones; orphan refunds -1",
        },
        "seasonality": {
            "q4_multiplier": Q4_MULTIPLIER,
            "months": [10, 11, 12],
            "signup_growth": SIGNUP_GROWTH,
        },
        "affinities": {
            "planted_pairs": [[CATEGORIES[i], CATEGORIES[j]] for i, j in PLANTED_PAIRS],
            "cluster_share_of_customers": CLUSTER_CUSTOMERS,
            "cluster_share_of_orders": CLUSTER_LOYALTY,
        },
        "experiment": _experiment_truth(experiment, pre_spend=pre_spend, outcome=outcome),
        "events": {
            "campaigns": campaigns,
            "params": MSG_PARAMS,
            "engagement": "open/click rates x (0.35 if dropped out else 1) x (0.4 + 0.6 exp(-days since last order / 90)); unsubscribe rate / same factor",
        },
        "dirty": dirty_counts,
        "suppression": suppression_truth(suppression, n_customers=generator["n_customers"]),
        "realized": realized,
        "amount_cap": AMOUNT_CAP,
    }
