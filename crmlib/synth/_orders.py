"""Orders of the synthetic CRM: the BG/NBD buy-till-you-die process and Gamma-Gamma spend."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from crmlib.synth._common import Window, categorical, format_ids, pick, str_series
from crmlib.synth._constants import (
    AMOUNT_CAP,
    CATEGORIES,
    CATEGORY_P,
    CLUSTER_LOYALTY,
    DAY_S,
    ORDER_CHANNEL_P,
    ORDER_CHANNELS,
    PLANTED_PAIRS,
    PRODUCTS_PER_CATEGORY,
    Q4_MULTIPLIER,
)
from crmlib.synth._customers import CustomerDraws

__all__ = [
    "Purchases",
    "draw_order_attributes",
    "draw_purchases",
    "pair_codes",
    "product_weights",
    "sort_orders",
    "transaction_table",
]


@dataclass(frozen=True)
class Purchases:
    """The natural purchase process: first orders, repeat orders and dropout times.

    Times are seconds since the window start. Repeats are grouped by customer and sorted
    within each customer: those of customer ``i`` are ``rep_s[rep_start[i]:]``, as many as
    ``owner == i``.
    """

    first_s: np.ndarray  # per customer: the first order, shortly after signup
    owner: np.ndarray  # per repeat order: the customer's row index
    rep_s: np.ndarray  # per repeat order: its time
    rep_start: np.ndarray  # per customer: index of its first repeat in ``rep_s``
    death_s: np.ndarray  # per customer: dropout time (int64 max for customers still alive)
    lam: np.ndarray  # per customer: purchase rate per day in operational time (before Q4)
    p_drop: np.ndarray  # per customer: dropout probability after each repeat purchase


def seasonal_time_warp(window: Window) -> tuple[np.ndarray, np.ndarray]:
    """Seasonality as a time warp: grids of days ``t`` and operational time ``tau(t)``.

    ``tau(t)`` is the integral of the rate multiplier (``Q4_MULTIPLIER`` in October-December).
    """
    day_dates = np.datetime64(window.start, "D") + np.arange(window.n_days)
    months = day_dates.astype("datetime64[M]").astype(np.int64) % 12 + 1
    grid_t = np.arange(window.n_days + 1, dtype=float)
    grid_tau = np.concatenate([[0.0], np.cumsum(np.where(months >= 10, Q4_MULTIPLIER, 1.0))])
    return grid_t, grid_tau


def draw_purchases(
    rng: np.random.Generator,
    customers: CustomerDraws,
    *,
    window: Window,
    par: dict[str, np.ndarray],
) -> Purchases:
    """BG/NBD: a first order shortly after signup, then repeats until dropout.

    Each customer repeats as a Poisson process (rate lambda ~ Gamma(r, alpha) per day, in
    operational time) and drops out after each repeat with probability p ~ Beta(a, b).
    """
    n = customers.n
    chan = customers.chan
    t_last = window.t_last
    grid_t, grid_tau = seasonal_time_warp(window)
    first_s = np.minimum(
        customers.signup_s + 60 + rng.exponential(1800, n).astype(np.int64), t_last
    )
    lam = rng.gamma(par["r"][chan], 1.0 / par["alpha"][chan])  # per day
    p_drop = rng.beta(par["a"][chan], par["b"][chan])
    k_drop = rng.geometric(np.clip(p_drop, 1e-9, 1.0))  # dies right after its k-th repeat
    tau0 = np.interp(first_s / DAY_S, grid_t, grid_tau)
    span = grid_tau[-1] - tau0
    n_poisson = rng.poisson(lam * span)
    n_rep = np.minimum(k_drop, n_poisson)
    # first n_rep of n_poisson sorted uniforms on [tau0, tauT] via exponential spacings
    spacings = rng.standard_exponential(int(n_rep.sum()))
    owner = np.repeat(np.arange(n), n_rep)
    rep_start = np.concatenate([[0], np.cumsum(n_rep)[:-1]])
    csum = np.cumsum(spacings)
    local = csum - np.concatenate([[0.0], csum])[rep_start][owner]
    seg_total = np.bincount(owner, weights=spacings, minlength=n)
    denom = seg_total + rng.standard_gamma((n_poisson - n_rep + 1).astype(float))
    tau_rep = tau0[owner] + span[owner] * local / denom[owner]
    del spacings, csum, local
    rep_s = np.minimum((np.interp(tau_rep, grid_tau, grid_t) * DAY_S).astype(np.int64), t_last)
    rep_s = np.maximum(rep_s, first_s[owner] + 1)
    del tau_rep
    last_rep = rep_start + n_rep - 1
    died = (k_drop <= n_poisson) & (n_rep > 0)
    death_s = np.full(n, np.iinfo(np.int64).max)
    death_s[died] = rep_s[last_rep[died]]
    return Purchases(
        first_s=first_s,
        owner=owner,
        rep_s=rep_s,
        rep_start=rep_start,
        death_s=death_s,
        lam=lam,
        p_drop=p_drop,
    )


def sort_orders(
    purchases: Purchases, *, lift_cust: np.ndarray, lift_ts: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Times and customer row indices of all orders, sorted by time.

    All orders are the first orders, the natural repeats and the experiment-induced orders
    (``lift_cust`` buying at ``lift_ts``).
    """
    n = purchases.first_s.size
    ts = np.concatenate([purchases.first_s, purchases.rep_s, lift_ts])
    perm = np.argsort(ts, kind="stable")
    ts = ts[perm]
    cust = np.concatenate([np.arange(n), purchases.owner, lift_cust]).astype(np.int32)[perm]
    return ts, cust


def pair_codes() -> np.ndarray:
    """:data:`PLANTED_PAIRS` as an ``(n_pairs, 2)`` array of category codes."""
    return np.array(PLANTED_PAIRS, dtype=np.int16)


def product_weights() -> np.ndarray:
    """Relative popularity of the products within a category (Zipf-like)."""
    return 1.0 / np.arange(1, PRODUCTS_PER_CATEGORY + 1) ** 0.9


def draw_order_attributes(
    rng: np.random.Generator,
    ts: np.ndarray,
    cust: np.ndarray,
    *,
    customers: CustomerDraws,
    par: dict[str, np.ndarray],
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Gamma-Gamma spend, category clusters, products and channels of the sorted orders.

    Order attributes are drawn after sorting (they are independent given the customer).
    Returns the order columns (``order_no``, ``cust``, ``ts``, ``amount``, ``quantity``,
    ``product``, ``cat``, ``och``; one element per order) and the spend scale ``nu`` of
    each customer.
    """
    chan = customers.chan
    n_orders = ts.size
    nu = rng.gamma(par["spend_q"][chan], 1.0 / par["spend_gamma"][chan])
    amount = np.clip(
        np.round(rng.gamma(par["spend_p"][chan][cust], 1.0 / nu[cust]), 2), 1.0, AMOUNT_CAP
    )
    quantity = 1 + rng.poisson(0.4, n_orders)
    cat = pick(rng, CATEGORY_P, n_orders)
    ocl = customers.cluster[cust]
    in_cluster = np.flatnonzero((ocl >= 0) & (rng.random(n_orders) < CLUSTER_LOYALTY))
    cat[in_cluster] = pair_codes()[ocl[in_cluster], rng.integers(0, 2, in_cluster.size)]
    del ocl, in_cluster
    product = (
        cat.astype(np.int32) * PRODUCTS_PER_CATEGORY + pick(rng, product_weights(), n_orders) + 1
    )
    och = pick(rng, ORDER_CHANNEL_P, n_orders)
    loyal = np.flatnonzero(rng.random(n_orders) < 0.75)
    och[loyal] = customers.pref_order_channel[cust[loyal]]
    del loyal
    orders = {"order_no": np.arange(1, n_orders + 1, dtype=np.int64), "cust": cust, "ts": ts,
              "amount": amount, "quantity": quantity, "product": product, "cat": cat, "och": och}  # fmt: skip
    return orders, nu


def transaction_table(tx: dict[str, np.ndarray], *, start_ts: np.datetime64) -> pd.DataFrame:
    """The ``transactions`` contract table from the order columns, one row per row of ``tx``.

    Empties ``tx`` column by column as it goes, to keep the peak memory low.
    """
    return pd.DataFrame(
        {
            "order_id": str_series(format_ids("O", tx.pop("order_no"), 8)),
            "customer_id": str_series(format_ids("C", tx.pop("cust").astype(np.int64) + 1, 7)),
            "order_ts": start_ts + tx.pop("ts").astype("timedelta64[s]"),
            "amount": tx.pop("amount"),
            "quantity": tx.pop("quantity").astype(np.int64),
            "product_id": str_series(format_ids("P", tx.pop("product"), 4)),
            "category": categorical(tx.pop("cat"), CATEGORIES),
            "channel": categorical(tx.pop("och"), ORDER_CHANNELS),
        }
    )
