"""The win-back experiment: at-risk customers, random assignment and a planted uplift."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from crmlib.synth._common import Window, format_ids, str_series
from crmlib.synth._constants import DAY_S, EXPERIMENT
from crmlib.synth._orders import Purchases

__all__ = ["Experiment", "assign_experiment", "assignment_table", "experiment_outcomes"]


@dataclass(frozen=True)
class Experiment:
    """Who is in the experiment, in which variant, and the orders the treatment induced."""

    experiment_id: str
    assigned_ts: np.datetime64
    assign_s: int  # assignment time, seconds since the window start
    window_s: int  # outcome window after assignment, seconds
    exp_idx: np.ndarray  # row indices of the assigned customers, ascending
    treated: np.ndarray  # per assigned customer: in the treatment variant
    p0: float  # expected repurchase share without treatment (natural repurchases)
    lift_cust: np.ndarray  # per induced order: the customer's row index
    lift_ts: np.ndarray  # per induced order: its time


def _eligible_and_natural(
    purchases: Purchases, *, assign_s: int, window_s: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per customer: eligible (last order 60-180 days before assignment), and buying anyway.

    "Buying anyway" means a natural order inside the outcome window.
    """
    first_s, owner, rep_s = purchases.first_s, purchases.owner, purchases.rep_s
    n = first_s.size
    n_rep_before = np.bincount(owner[rep_s < assign_s], minlength=n)  # repeats are sorted
    last_before = np.where(first_s < assign_s, first_s, -1)
    has_before = n_rep_before > 0
    last_before[has_before] = rep_s[(purchases.rep_start + n_rep_before - 1)[has_before]]
    recency_days = (assign_s - last_before) / DAY_S
    eligible = (
        (last_before >= 0)
        & (recency_days >= EXPERIMENT["min_recency_days"])
        & (recency_days <= EXPERIMENT["max_recency_days"])
    )
    in_window = (rep_s > assign_s) & (rep_s <= assign_s + window_s)
    natural = np.bincount(owner[in_window], minlength=n) > 0
    natural |= (first_s > assign_s) & (first_s <= assign_s + window_s)
    return eligible, natural


def assign_experiment(
    rng: np.random.Generator, purchases: Purchases, *, window: Window
) -> Experiment:
    """Assign at-risk customers 50/50 and plant the uplift in 30-day repurchase.

    Treated customers who would not have bought in the outcome window get an induced order
    with the probability that raises the treatment repurchase share by ``EXPERIMENT["uplift"]``.
    """
    exp_date = window.end_excl - np.timedelta64(int(EXPERIMENT["days_before_end"]) + 1, "D")
    assign_s = int((exp_date - window.start_ts).astype(np.int64)) + 9 * 3600
    window_s = int(EXPERIMENT["window_days"]) * DAY_S
    eligible, natural = _eligible_and_natural(purchases, assign_s=assign_s, window_s=window_s)
    exp_idx = np.flatnonzero(eligible)
    treated = rng.random(exp_idx.size) < 0.5
    p0 = float(natural[exp_idx].mean()) if exp_idx.size else 0.0
    pi = min(1.0, EXPERIMENT["uplift"] / max(1e-9, 1.0 - p0))
    lift_cust = exp_idx[treated & ~natural[exp_idx] & (rng.random(exp_idx.size) < pi)]
    lift_ts = assign_s + rng.integers(60, window_s, lift_cust.size)
    return Experiment(
        experiment_id=f"winback-{str(exp_date.astype('datetime64[M]'))}",
        assigned_ts=window.start_ts + np.timedelta64(assign_s, "s"),
        assign_s=assign_s,
        window_s=window_s,
        exp_idx=exp_idx,
        treated=treated,
        p0=p0,
        lift_cust=lift_cust,
        lift_ts=lift_ts,
    )


def experiment_outcomes(
    experiment: Experiment, orders: dict[str, np.ndarray], *, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """Pre-period spend and outcome (any order in the window) of each assigned customer."""
    ts, cust, amount = orders["ts"], orders["cust"], orders["amount"]
    assign_s, window_s = experiment.assign_s, experiment.window_s
    exp_idx = experiment.exp_idx
    pre_mask = (ts < assign_s) & (ts >= assign_s - EXPERIMENT["pre_period_days"] * DAY_S)
    pre_spend = np.bincount(cust[pre_mask], weights=amount[pre_mask], minlength=n)[exp_idx]
    out_mask = (ts > assign_s) & (ts <= assign_s + window_s)
    outcome = (np.bincount(cust[out_mask], minlength=n) > 0)[exp_idx]
    return pre_spend, outcome


def assignment_table(experiment: Experiment) -> pd.DataFrame:
    """The ``assignments`` contract table, one row per assigned customer."""
    exp_idx, treated = experiment.exp_idx, experiment.treated
    return pd.DataFrame(
        {
            "customer_id": str_series(format_ids("C", exp_idx + 1, 7)),
            "experiment_id": pd.array([experiment.experiment_id] * exp_idx.size, dtype="str"),
            "variant": pd.Categorical(
                np.where(treated, "treatment", "control"), categories=["control", "treatment"]
            ),
            "assigned_ts": np.full(exp_idx.size, experiment.assigned_ts),
            "cost": np.where(treated, EXPERIMENT["cost_per_contact"], 0.0),
        }
    )
