"""The generator: draws every step of the synthetic CRM in a fixed order from one seed."""

from __future__ import annotations

import logging

import numpy as np

from crmlib.synth._common import Window
from crmlib.synth._crm import SyntheticCRM
from crmlib.synth._customers import channel_arrays, customer_table, draw_customers, loyalty_tiers
from crmlib.synth._dirty import inject_dirty_rows
from crmlib.synth._events import draw_events
from crmlib.synth._experiment import assign_experiment, assignment_table, experiment_outcomes
from crmlib.synth._latent import latent_table
from crmlib.synth._orders import (
    draw_order_attributes,
    draw_purchases,
    sort_orders,
    transaction_table,
)
from crmlib.synth._refunds import draw_refunds, merge_rows
from crmlib.synth._spend import draw_marketing_spend, spend_truth
from crmlib.synth._suppression import draw_suppression
from crmlib.synth._surveys import draw_surveys, survey_truth
from crmlib.synth._truth import NEW_TABLE_NOTES, build_truth, realized_counts

__all__ = ["generate"]

log = logging.getLogger(__name__)


def generate(
    n_customers: int,
    *,
    seed: int = 42,
    start: str = "2023-01-01",
    end: str = "2025-12-31",
    dirty_rate: float = 0.002,
) -> SyntheticCRM:
    """Generate a synthetic CRM from a buy-till-you-die process with planted effects.

    One customer row per customer; each customer buys at signup, then repeats as a
    Poisson process (rate lambda ~ Gamma(r, alpha) per day, 1.6x in Q4) and drops out after
    each repeat purchase with probability p ~ Beta(a, b) (BG/NBD); order values follow the
    Gamma-Gamma model. Parameters differ by acquisition channel (:data:`CHANNEL_PARAMS`).
    Refunds, orphan refunds, monthly campaigns, a win-back experiment with a planted uplift
    and injected dirty rows are added; everything planted is recorded in ``truth``, and the
    drawn per-customer parameters and dropout times in ``latent``. Last, a global suppression
    list, the survey responses (NPS and CSAT, satisfaction tied to the planted dropout
    probability) and the daily marketing spend (a planted CAC per channel) are drawn, each
    from its own stream (``default_rng([seed, 1])``, ``[seed, 2]``, ``[seed, 3]``), so every
    other table is the same as without them.

    Parameters
    ----------
    n_customers : int
        Number of customers in ``customers``.
    seed : int, default 42
        Seed of :func:`numpy.random.default_rng`; the same seed gives identical tables.
    start, end : str, default "2023-01-01", "2025-12-31"
        First and last day (inclusive) of the observation window, ``YYYY-MM-DD``.
    dirty_rate : float, default 0.002
        Injected rows per clean order, split evenly over the eight reasons; 0 disables.

    Returns
    -------
    SyntheticCRM
        The tables, the suppression list, the latent truth and the ``truth`` dictionary.

    References
    ----------
    Fader, P. S., Hardie, B. G. S., & Lee, K. L. (2005). "Counting your customers" the easy
    way: An alternative to the Pareto/NBD model. Marketing Science, 24(2), 275-284.
    Fader, P. S., Hardie, B. G. S., & Lee, K. L. (2005). RFM and CLV: Using iso-value curves
    for customer base analysis. Journal of Marketing Research, 42(4), 415-430.
    Colombo, R., & Jiang, W. (1999). A stochastic RFM model. Journal of Interactive
    Marketing, 13(3), 2-12.

    Examples
    --------
    >>> crm = generate(200, seed=1)
    >>> len(crm.customers), crm.truth["generator"]["n_customers"]
    (200, 200)
    """
    if n_customers < 1:
        raise ValueError(f"n_customers={n_customers}: expected a positive integer")
    if not 0.0 <= dirty_rate < 0.1:
        raise ValueError(f"dirty_rate={dirty_rate}: expected a share in [0, 0.1)")
    rng = np.random.default_rng(seed)  # the steps below draw from it in this fixed order
    window = Window.from_dates(start, end)
    n = n_customers
    par = channel_arrays()

    customers = draw_customers(rng, n, window=window, par=par)
    purchases = draw_purchases(rng, customers, window=window, par=par)
    experiment = assign_experiment(rng, purchases, window=window)
    ts, cust = sort_orders(purchases, lift_cust=experiment.lift_cust, lift_ts=experiment.lift_ts)
    death_s, lam, p_drop = purchases.death_s, purchases.lam, purchases.p_drop
    del purchases
    orders, nu = draw_order_attributes(rng, ts, cust, customers=customers, par=par)
    del ts, cust
    tier = loyalty_tiers(orders["ts"], orders["cust"], n=n, t_last=window.t_last)
    pre_spend, outcome = experiment_outcomes(experiment, orders, n=n)
    events, campaigns = draw_events(
        rng,
        customers,
        death_s=death_s,
        window=window,
        order_ts=orders["ts"],
        order_cust=orders["cust"],
    )
    refunds = draw_refunds(rng, orders, customers=customers, nu=nu, par=par, t_last=window.t_last)
    n_orders = orders["ts"].size
    tx = merge_rows(orders, refunds.rows)
    del orders
    positive = tx["amount"] > 0

    customers_table = customer_table(customers, tier=tier, start_ts=window.start_ts)
    transactions = transaction_table(tx, start_ts=window.start_ts)
    assignments = assignment_table(experiment)
    dirty, dirty_counts = inject_dirty_rows(
        rng,
        transactions,
        positive,
        n,
        dirty_rate,
        window.t_last,
        window.start_ts,
        n_orders + refunds.n_orphans,
    )

    # neither touches `rng`, so the tables above do not depend on them: the latent truth
    # records values drawn above, the suppression list draws from its own stream
    latent = latent_table(customers, lam=lam, p_drop=p_drop, death_s=death_s, nu=nu, window=window)
    suppression = draw_suppression(seed, customers, window=window)
    surveys, survey_latent = draw_surveys(seed, customers, p_drop=p_drop, window=window)
    marketing_spend, spend_factor = draw_marketing_spend(seed, customers, window=window)

    realized = realized_counts(
        transactions,
        positive=positive,
        n_customers=n,
        n_dirty_rows=len(dirty),
        unknown_customer_revenue=float(
            dirty.loc[dirty["reason"] == "unknown_customer", "amount"].astype(float).sum()
        ),
        n_events=int(len(events)),
        n_assignments=int(experiment.exp_idx.size),
        n_alive_at_end=int((death_s > window.t_last).sum()),
    )
    truth = build_truth(
        {"n_customers": n, "seed": seed, "start": start, "end": end, "dirty_rate": dirty_rate},
        refunds=refunds,
        experiment=experiment,
        pre_spend=pre_spend,
        outcome=outcome,
        campaigns=campaigns,
        dirty_counts=dirty_counts,
        realized=realized,
        suppression=suppression,
    )
    truth["notes"].update(NEW_TABLE_NOTES)
    truth["surveys"] = survey_truth(
        survey_latent, customers, p_drop=p_drop, transactions=transactions, window=window
    )
    truth["marketing_spend"] = spend_truth(marketing_spend, customers, factor=spend_factor)
    log.info(
        "generated %d customers, %d transaction rows, %d events",
        n,
        len(transactions),
        len(events),
    )
    return SyntheticCRM(
        customers_table,
        transactions,
        events,
        assignments,
        truth,
        dirty,
        suppression=suppression,
        latent=latent,
        surveys=surveys,
        marketing_spend=marketing_spend,
    )
