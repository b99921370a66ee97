"""Generate a synthetic CRM (customers, orders, messaging events, an experiment) with planted truth."""

from __future__ import annotations

import argparse
import functools
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

__all__ = [
    "CHANNEL_PARAMS",
    "DIRTY_REASONS",
    "TX_COLUMNS",
    "SyntheticCRM",
    "generate",
    "main",
    "write",
]

log = logging.getLogger(__name__)

VERSION = 1
DAY_S = 86_400

# Acquisition channels: share of signups, BG/NBD (r, alpha per day, a, b) and Gamma-Gamma
# spend (p, q, gamma). Listed from the best-retaining channel to the worst: a higher
# purchase rate r/alpha and a lower dropout probability a/(a+b) go together.
CHANNEL_PARAMS: dict[str, dict[str, float]] = {
    "email_referral": dict(
        share=0.10, r=0.80, alpha=16.0, a=0.80, b=28.0, spend_p=6.0, spend_q=4.0, spend_gamma=30.0
    ),
    "organic_search": dict(
        share=0.25, r=0.70, alpha=20.0, a=0.85, b=24.0, spend_p=6.0, spend_q=4.0, spend_gamma=27.0
    ),
    "paid_search": dict(
        share=0.22, r=0.60, alpha=22.0, a=0.90, b=20.0, spend_p=5.5, spend_q=4.0, spend_gamma=26.0
    ),
    "affiliate": dict(
        share=0.10, r=0.55, alpha=30.0, a=1.00, b=17.0, spend_p=5.0, spend_q=4.0, spend_gamma=27.0
    ),
    "social": dict(
        share=0.18, r=0.50, alpha=40.0, a=1.10, b=15.0, spend_p=5.0, spend_q=4.5, spend_gamma=26.0
    ),
    "marketplace": dict(
        share=0.15, r=0.45, alpha=55.0, a=1.20, b=12.0, spend_p=4.5, spend_q=4.5, spend_gamma=30.0
    ),
}
REGIONS = ["north", "south", "east", "west", "central", "overseas"]
REGION_P = [0.22, 0.20, 0.17, 0.18, 0.16, 0.07]
ORDER_CHANNELS = ["web", "app", "store"]
ORDER_CHANNEL_P = [0.50, 0.35, 0.15]
CATEGORIES = [
    "coffee", "mugs", "running_shoes", "sportswear", "skincare", "makeup",
    "books", "stationery", "electronics", "phone_accessories", "toys", "kids_clothing",
]  # fmt: skip
CATEGORY_P = [0.10, 0.07, 0.08, 0.10, 0.09, 0.08, 0.10, 0.07, 0.08, 0.07, 0.08, 0.08]
PLANTED_PAIRS = [(0, 1), (2, 3), (4, 5), (6, 7), (8, 9), (10, 11)]  # indices into CATEGORIES
PRODUCTS_PER_CATEGORY = 30
MSG_CHANNELS = ["email", "sms", "push"]
EVENT_TYPES = ["sent", "open", "click", "unsubscribe"]
LOYALTY_TIERS = ["none", "silver", "gold"]
DIRTY_REASONS = [
    "duplicate_row", "missing_customer_id", "bad_timestamp", "bad_amount",
    "future_timestamp", "conflicting_order", "amount_out_of_bounds", "unknown_customer",
]  # fmt: skip
TX_COLUMNS = [
    "order_id",
    "customer_id",
    "order_ts",
    "amount",
    "quantity",
    "product_id",
    "category",
    "channel",
]

Q4_MULTIPLIER = 1.6  # purchase-rate multiplier in October-December (time warping)
SIGNUP_GROWTH = 0.8  # signup density at `end` is (1 + growth) times the density at `start`
REFUND_SHARE = 0.03
ORPHAN_REFUND_SHARE = 0.001
AMOUNT_CAP = 5_000.0  # clean order amounts are capped here; out-of-bounds rows start at 250,000
CLUSTER_CUSTOMERS = 0.85  # share of customers with a preferred category pair
CLUSTER_LOYALTY = 0.80  # share of a clustered customer's orders inside its category pair
EXPERIMENT = dict(days_before_end=60, min_recency_days=60, max_recency_days=180, uplift=0.05,
                  window_days=30, cost_per_contact=1.50, pre_period_days=365)  # fmt: skip
# messaging: opt-in share, send day of month, audience share per campaign, open/click rates
MSG_PARAMS = {
    "email": dict(opt_in=0.60, day=5, audience=0.50, open=0.35, click=0.25, unsub=0.004),
    "sms": dict(opt_in=0.25, day=12, audience=0.40, open=0.20, click=0.20, unsub=0.006),
    "push": dict(opt_in=0.35, day=20, audience=0.50, open=0.15, click=0.30, unsub=0.003),
}
DEAD_ENGAGEMENT = 0.35  # open/click rates of customers who already dropped out, relative


@dataclass(frozen=True)
class SyntheticCRM:
    """A generated CRM: the four contract tables plus the planted truth.

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
    """

    customers: pd.DataFrame
    transactions: pd.DataFrame
    events: pd.DataFrame
    assignments: pd.DataFrame
    truth: dict[str, Any]
    dirty_transactions: pd.DataFrame = field(default_factory=pd.DataFrame)


def _ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    """Format non-negative integers as zero-padded string ids (``C0000001``), vectorized."""
    numbers = np.asarray(numbers, dtype=np.int64)
    if numbers.size and numbers.max() >= 10**width:
        width = len(str(int(numbers.max())))
    head = np.frombuffer(prefix.encode(), dtype=np.uint8)
    row = head.size + width
    text = np.empty((numbers.size, row), dtype=np.uint8)
    text[:, : head.size] = head
    rest = numbers.copy()
    for col in range(row - 1, head.size - 1, -1):
        text[:, col] = 48 + rest % 10
        rest //= 10
    offsets = np.arange(
        0, numbers.size * row + 1, row, dtype=np.int32 if numbers.size * row < 2**31 else np.int64
    )
    kind = pa.string() if offsets.dtype == np.int32 else pa.large_string()
    return pa.Array.from_buffers(
        kind, numbers.size, [None, pa.py_buffer(offsets), pa.py_buffer(text)]
    )


def _str_series(values: pa.Array) -> pd.Series:
    """An Arrow string array as a pandas ``str`` Series."""
    return pa.table({"v": values}).to_pandas()["v"]


def _categorical(codes: np.ndarray, labels: Sequence[str]) -> pd.Categorical:
    return pd.Categorical.from_codes(codes.astype(np.int16), categories=list(labels))


def _pick(rng: np.random.Generator, probs: Sequence[float] | np.ndarray, size: int) -> np.ndarray:
    """Draw category codes with the given probabilities (vectorized inverse CDF)."""
    cdf = np.cumsum(np.asarray(probs, dtype=float))
    return np.searchsorted(cdf / cdf[-1], rng.random(size), side="right").astype(np.int16)


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
    and injected dirty rows are added; everything planted is recorded in ``truth``.

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
        The tables and the ``truth`` dictionary.

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
    rng = np.random.default_rng(seed)
    start_ts = np.datetime64(start, "s")
    end_excl = np.datetime64(end, "D") + np.timedelta64(1, "D")
    n_days = int((end_excl - np.datetime64(start, "D")).astype(int))
    if n_days < 400:
        raise ValueError(f"start={start}, end={end}: expected a window of at least 400 days")
    t_last = n_days * DAY_S - 1  # last valid second, relative to start
    n = n_customers
    channel_names = list(CHANNEL_PARAMS)
    par = {
        k: np.array([CHANNEL_PARAMS[c][k] for c in channel_names])
        for k in CHANNEL_PARAMS["email_referral"]
    }

    # --- seasonality as a time warp: operational time tau(t) = integral of the rate multiplier
    day_dates = np.datetime64(start, "D") + np.arange(n_days)
    months = day_dates.astype("datetime64[M]").astype(np.int64) % 12 + 1
    grid_t = np.arange(n_days + 1, dtype=float)
    grid_tau = np.concatenate([[0.0], np.cumsum(np.where(months >= 10, Q4_MULTIPLIER, 1.0))])

    # --- customers: signup over the window with linearly growing density, sorted by time
    g = SIGNUP_GROWTH
    u = np.sort(rng.random(n))
    x = (np.sqrt(1.0 + 2.0 * g * u * (1.0 + g / 2.0)) - 1.0) / g
    signup_s = np.minimum((x * n_days * DAY_S).astype(np.int64), t_last - 3 * 3600)
    chan = _pick(rng, par["share"], n)
    region = _pick(rng, REGION_P, n)
    pref_order_channel = _pick(rng, ORDER_CHANNEL_P, n)
    cluster = np.where(
        rng.random(n) < CLUSTER_CUSTOMERS, rng.integers(0, len(PLANTED_PAIRS), n), -1
    )
    birth_year = np.clip(np.round(rng.normal(1984, 13, n)), 1935, 2007).astype(np.int64)
    birth_missing = rng.random(n) < 0.08
    opt = {m: rng.random(n) < MSG_PARAMS[m]["opt_in"] for m in ("email", "sms")}
    opt["push"] = rng.random(n) < np.where(pref_order_channel == 1, 0.65, 0.18)

    # --- BG/NBD: first order shortly after signup, then repeats until dropout
    first_s = np.minimum(signup_s + 60 + rng.exponential(1800, n).astype(np.int64), t_last)
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

    # --- win-back experiment on at-risk customers, planted uplift in 30-day repurchase
    exp_date = end_excl - np.timedelta64(int(EXPERIMENT["days_before_end"]) + 1, "D")
    assign_s = int((exp_date - start_ts).astype(np.int64)) + 9 * 3600
    window_s = int(EXPERIMENT["window_days"]) * DAY_S
    n_rep_before = np.bincount(owner[rep_s < assign_s], minlength=n)  # repeats are sorted
    last_before = np.where(first_s < assign_s, first_s, -1)
    has_before = n_rep_before > 0
    last_before[has_before] = rep_s[(rep_start + n_rep_before - 1)[has_before]]
    recency_days = (assign_s - last_before) / DAY_S
    eligible = (
        (last_before >= 0)
        & (recency_days >= EXPERIMENT["min_recency_days"])
        & (recency_days <= EXPERIMENT["max_recency_days"])
    )
    in_window = (rep_s > assign_s) & (rep_s <= assign_s + window_s)
    natural = np.bincount(owner[in_window], minlength=n) > 0
    natural |= (first_s > assign_s) & (first_s <= assign_s + window_s)
    exp_idx = np.flatnonzero(eligible)
    treated = rng.random(exp_idx.size) < 0.5
    p0 = float(natural[exp_idx].mean()) if exp_idx.size else 0.0
    pi = min(1.0, EXPERIMENT["uplift"] / max(1e-9, 1.0 - p0))
    lift_cust = exp_idx[treated & ~natural[exp_idx] & (rng.random(exp_idx.size) < pi)]
    lift_ts = assign_s + rng.integers(60, window_s, lift_cust.size)
    del in_window

    # all orders (first orders, natural repeats, experiment-induced orders), sorted by time;
    # order attributes are drawn after sorting (they are independent given the customer)
    ts = np.concatenate([first_s, rep_s, lift_ts])
    perm = np.argsort(ts, kind="stable")
    ts = ts[perm]
    cust = np.concatenate([np.arange(n), owner, lift_cust]).astype(np.int32)[perm]
    del owner, rep_s, perm
    n_orders = ts.size

    # --- order attributes: Gamma-Gamma spend, category clusters, products, channels
    nu = rng.gamma(par["spend_q"][chan], 1.0 / par["spend_gamma"][chan])
    amount = np.clip(
        np.round(rng.gamma(par["spend_p"][chan][cust], 1.0 / nu[cust]), 2), 1.0, AMOUNT_CAP
    )
    quantity = 1 + rng.poisson(0.4, n_orders)
    cat = _pick(rng, CATEGORY_P, n_orders)
    pairs = np.array(PLANTED_PAIRS, dtype=np.int16)
    ocl = cluster[cust]
    in_cluster = np.flatnonzero((ocl >= 0) & (rng.random(n_orders) < CLUSTER_LOYALTY))
    cat[in_cluster] = pairs[ocl[in_cluster], rng.integers(0, 2, in_cluster.size)]
    del ocl, in_cluster
    zipf = 1.0 / np.arange(1, PRODUCTS_PER_CATEGORY + 1) ** 0.9
    product = cat.astype(np.int32) * PRODUCTS_PER_CATEGORY + _pick(rng, zipf, n_orders) + 1
    och = _pick(rng, ORDER_CHANNEL_P, n_orders)
    loyal = np.flatnonzero(rng.random(n_orders) < 0.75)
    och[loyal] = pref_order_channel[cust[loyal]]
    del loyal

    # loyalty tier from orders in the last 365 days of the window
    recent = np.bincount(cust[ts > t_last - 365 * DAY_S], minlength=n)
    tier = np.where(recent >= 15, 2, np.where(recent >= 5, 1, 0))

    # pre-period spend and outcome of the experiment customers
    pre_mask = (ts < assign_s) & (ts >= assign_s - EXPERIMENT["pre_period_days"] * DAY_S)
    pre_spend = np.bincount(cust[pre_mask], weights=amount[pre_mask], minlength=n)[exp_idx]
    out_mask = (ts > assign_s) & (ts <= assign_s + window_s)
    outcome = (np.bincount(cust[out_mask], minlength=n) > 0)[exp_idx]
    del pre_mask, out_mask

    # --- messaging campaigns over the last 12 months, monthly per channel
    events_df, campaigns = _events(
        rng, n, signup_s, death_s, opt, start_ts, end_excl, t_last, ts, cust
    )

    # --- refunds (same order_id, negative amount) and orphan refunds (order not in the file)
    refunded = np.flatnonzero(rng.random(n_orders) < REFUND_SHARE)
    n_ref = refunded.size
    room = np.minimum(30 * DAY_S, t_last - ts[refunded])
    ref_ts = ts[refunded] + (rng.random(n_ref) * room).astype(np.int64)
    full = rng.random(n_ref) < 0.6
    frac = rng.uniform(0.1, 0.9, n_ref)
    ref_amount = -np.where(
        full, amount[refunded], np.maximum(0.01, np.round(amount[refunded] * frac, 2))
    )
    ref_qty = -np.where(
        full, quantity[refunded], np.maximum(1, np.ceil(quantity[refunded] * frac))
    ).astype(np.int64)
    n_orph = int(rng.binomial(n_orders, ORPHAN_REFUND_SHARE))
    orph_cust = rng.integers(0, n, n_orph)
    orph_ts = signup_s[orph_cust] + (rng.random(n_orph) * (t_last - signup_s[orph_cust])).astype(
        np.int64
    )
    orph_amount = -np.clip(
        np.round(rng.gamma(par["spend_p"][chan][orph_cust], 1.0 / nu[orph_cust]), 2),
        1.0,
        AMOUNT_CAP,
    )
    orph_cat = np.where(
        cluster[orph_cust] >= 0,
        pairs[np.maximum(cluster[orph_cust], 0), 0],
        _pick(rng, CATEGORY_P, n_orph),
    )
    orph_product = orph_cat.astype(np.int32) * PRODUCTS_PER_CATEGORY + _pick(rng, zipf, n_orph) + 1

    # merge the (few) negative rows into the time-sorted orders without a full re-sort
    extra = {
        "order_no": np.concatenate([refunded + 1, n_orders + 1 + np.arange(n_orph)]),
        "cust": np.concatenate([cust[refunded], orph_cust]).astype(np.int32),
        "ts": np.concatenate([ref_ts, orph_ts]),
        "amount": np.concatenate([ref_amount, orph_amount]),
        "quantity": np.concatenate([ref_qty, -np.ones(n_orph, dtype=np.int64)]),
        "product": np.concatenate([product[refunded], orph_product]),
        "cat": np.concatenate([cat[refunded], orph_cat.astype(np.int16)]),
        "och": np.concatenate([och[refunded], pref_order_channel[orph_cust]]),
    }
    extra_order = np.argsort(extra["ts"], kind="stable")
    extra = {k: v[extra_order] for k, v in extra.items()}
    slots = np.searchsorted(ts, extra["ts"], side="right") + np.arange(extra_order.size)
    is_extra = np.zeros(n_orders + extra_order.size, dtype=bool)
    is_extra[slots] = True
    base = {"order_no": np.arange(1, n_orders + 1, dtype=np.int64), "cust": cust, "ts": ts, "amount": amount,
            "quantity": quantity, "product": product, "cat": cat, "och": och}  # fmt: skip
    tx: dict[str, np.ndarray] = {}
    for key in base:
        merged = np.empty(is_extra.size, dtype=np.result_type(base[key], extra[key]))
        merged[slots] = extra[key]
        merged[~is_extra] = base[key]
        tx[key] = merged
        base[key] = np.empty(0)
    del base, extra, cust, ts, amount, quantity, product, cat, och, is_extra, slots
    positive = tx["amount"] > 0

    # --- tables
    customers = pd.DataFrame(
        {
            "customer_id": _str_series(_ids("C", np.arange(1, n + 1), 7)),
            "signup_ts": start_ts + signup_s.astype("timedelta64[s]"),
            "acquisition_channel": _categorical(chan, channel_names),
            "region": _categorical(region, REGIONS),
            "birth_year": pd.arrays.IntegerArray(birth_year, birth_missing),
            "email_opt_in": opt["email"],
            "sms_opt_in": opt["sms"],
            "push_opt_in": opt["push"],
            "loyalty_tier": _categorical(tier, LOYALTY_TIERS),
        }
    )
    transactions = pd.DataFrame(
        {
            "order_id": _str_series(_ids("O", tx.pop("order_no"), 8)),
            "customer_id": _str_series(_ids("C", tx.pop("cust").astype(np.int64) + 1, 7)),
            "order_ts": start_ts + tx.pop("ts").astype("timedelta64[s]"),
            "amount": tx.pop("amount"),
            "quantity": tx.pop("quantity").astype(np.int64),
            "product_id": _str_series(_ids("P", tx.pop("product"), 4)),
            "category": _categorical(tx.pop("cat"), CATEGORIES),
            "channel": _categorical(tx.pop("och"), ORDER_CHANNELS),
        }
    )
    events_df.insert(
        0, "customer_id", _str_series(_ids("C", events_df.pop("cust").to_numpy() + 1, 7))
    )
    exp_id = f"winback-{str(exp_date.astype('datetime64[M]'))}"
    assigned_ts = start_ts + np.timedelta64(assign_s, "s")
    assignments = pd.DataFrame(
        {
            "customer_id": _str_series(_ids("C", exp_idx + 1, 7)),
            "experiment_id": pd.array([exp_id] * exp_idx.size, dtype="str"),
            "variant": pd.Categorical(
                np.where(treated, "treatment", "control"), categories=["control", "treatment"]
            ),
            "assigned_ts": np.full(exp_idx.size, assigned_ts),
            "cost": np.where(treated, EXPERIMENT["cost_per_contact"], 0.0),
        }
    )

    dirty, dirty_counts = _dirty(
        rng, transactions, positive, n, dirty_rate, t_last, start_ts, n_orders + n_orph
    )

    # --- truth
    def corr(a: np.ndarray, b: np.ndarray) -> float | None:
        return (
            float(np.corrcoef(a, b)[0, 1]) if a.size > 2 and a.std() > 0 and b.std() > 0 else None
        )

    p180 = {
        c: 1.0
        - (CHANNEL_PARAMS[c]["alpha"] / (CHANNEL_PARAMS[c]["alpha"] + 180.0 * 1.15))
        ** CHANNEL_PARAMS[c]["r"]
        for c in channel_names
    }
    amounts = transactions["amount"].to_numpy()
    truth: dict[str, Any] = {
        "generator": {
            "n_customers": n,
            "seed": seed,
            "start": start,
            "end": end,
            "dirty_rate": dirty_rate,
            "version": VERSION,
        },
        "channels": {c: {k: float(v) for k, v in CHANNEL_PARAMS[c].items()} for c in channel_names},
        "channel_retention_rank": sorted(channel_names, key=lambda c: -p180[c]),
        "channel_expected_repeat_180d": {c: round(p180[c], 4) for c in channel_names},
        "notes": {
            "channel_expected_repeat_180d": "1 - (alpha / (alpha + 180 * 1.15)) ** r: P(2nd order within 180 days of the first), 1.15 = average seasonal rate multiplier",
            "n_orders": "clean positive rows of customers in customers.csv (excludes every injected row, including the valid unknown_customer orders)",
            "n_refund_rows": "clean negative rows: refunds of orders in the file plus orphan refunds",
            "n_transaction_rows": "every data row of transactions.csv = n_orders + n_refund_rows + sum(dirty)",
        },
        "refunds": {
            "planted_share": REFUND_SHARE,
            "n_refunded_orders": int(n_ref),
            "n_orphan_refunds": n_orph,
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
        "experiment": {
            "experiment_id": exp_id,
            "assigned_ts": str(assigned_ts).replace("T", " "),
            "n_control": int((~treated).sum()),
            "n_treatment": int(treated.sum()),
            "cost_per_contact": EXPERIMENT["cost_per_contact"],
            "eligibility": "last order 60-180 days before assigned_ts",
            "outcome": "any positive order with assigned_ts < order_ts <= assigned_ts + 30 days",
            "planted_uplift_30d_repurchase": EXPERIMENT["uplift"],
            "baseline_30d_repurchase_expected": round(p0, 6),
            "realized_30d_repurchase": {
                "control": float(outcome[~treated].mean()) if (~treated).any() else None,
                "treatment": float(outcome[treated].mean()) if treated.any() else None,
            },
            "pre_period_days": EXPERIMENT["pre_period_days"],
            "pre_spend_outcome_corr": corr(pre_spend, outcome.astype(float)),
        },
        "events": {
            "campaigns": campaigns,
            "params": MSG_PARAMS,
            "engagement": "open/click rates x (0.35 if dropped out else 1) x (0.4 + 0.6 exp(-days since last order / 90)); unsubscribe rate / same factor",
        },
        "dirty": dirty_counts,
        "realized": {
            "n_customers": n,
            "n_orders": int(positive.sum()),
            "n_refund_rows": int((~positive).sum()),
            "n_transaction_rows": int(len(transactions) + len(dirty)),
            "gross_revenue": round(float(amounts[positive].sum()), 2),
            "refund_amount": round(float(amounts[~positive].sum()), 2),
            "n_events": int(len(events_df)),
            "n_assignments": int(exp_idx.size),
            "n_alive_at_end": int((death_s > t_last).sum()),
        },
        "amount_cap": AMOUNT_CAP,
    }
    log.info(
        "generated %d customers, %d transaction rows, %d events",
        n,
        len(transactions),
        len(events_df),
    )
    return SyntheticCRM(customers, transactions, events_df, assignments, truth, dirty)


def _events(
    rng: np.random.Generator,
    n: int,
    signup_s: np.ndarray,
    death_s: np.ndarray,
    opt: dict[str, np.ndarray],
    start_ts: np.datetime64,
    end_excl: np.datetime64,
    t_last: int,
    order_ts: np.ndarray,
    order_cust: np.ndarray,
) -> tuple[pd.DataFrame, list[str]]:
    """Monthly campaigns per messaging channel over the last 12 months of the window.

    Returns one row per event (``cust`` is the customer's row index) and the campaign ids.
    Sends go to a random audience among consenting, signed-up, not-unsubscribed customers.
    Open and click rates are scaled by an engagement factor: ``DEAD_ENGAGEMENT`` for customers
    who have already dropped out (else 1), times ``0.4 + 0.6 * exp(-days since last order / 90)``;
    unsubscribe rates are divided by it. ``order_ts`` must be sorted.
    """
    last_month = (end_excl - np.timedelta64(1, "D")).astype("datetime64[M]")
    first_month = max(last_month - np.timedelta64(11, "M"), start_ts.astype("datetime64[M]"))
    unsubscribed = {m: np.zeros(n, dtype=bool) for m in MSG_CHANNELS}
    cols: dict[str, list[np.ndarray]] = {
        "cust": [],
        "ts": [],
        "channel": [],
        "type": [],
        "campaign": [],
    }
    campaigns: list[str] = []
    last_order = np.full(n, np.iinfo(np.int64).min // 2)
    done = 0
    month = first_month
    while month <= last_month:
        for ch_code, ch in enumerate(MSG_CHANNELS):
            prm = MSG_PARAMS[ch]
            send_day = month.astype("datetime64[D]") + np.timedelta64(int(prm["day"]) - 1, "D")
            send_s = int((send_day - start_ts).astype(np.int64)) + 10 * 3600
            if send_s < 0 or send_s > t_last:
                continue
            upto = int(np.searchsorted(order_ts, send_s, side="left"))
            np.maximum.at(last_order, order_cust[done:upto], order_ts[done:upto])
            done = upto
            eligible = opt[ch] & (signup_s < send_s) & ~unsubscribed[ch]
            idx = np.flatnonzero(eligible & (rng.random(n) < prm["audience"]))
            k = idx.size
            sent_ts = send_s + rng.integers(0, 7200, k)
            recency_days = (send_s - last_order[idx]) / DAY_S
            engagement = np.where(sent_ts < death_s[idx], 1.0, DEAD_ENGAGEMENT) * (
                0.4 + 0.6 * np.exp(-recency_days / 90)
            )
            opened = rng.random(k) < prm["open"] * engagement
            open_ts = sent_ts + 1 + rng.exponential(4 * 3600, k).astype(np.int64)
            clicked = opened & (rng.random(k) < prm["click"] * engagement)
            click_ts = open_ts + 1 + rng.exponential(300, k).astype(np.int64)
            unsub = rng.random(k) < prm["unsub"] / engagement
            unsub_ts = sent_ts + 1 + rng.exponential(DAY_S, k).astype(np.int64)
            unsubscribed[ch][idx[unsub]] = True
            code = len(campaigns)
            campaigns.append(f"CMP-{str(month)}-{ch}")
            for type_code, mask, when in (
                (0, None, sent_ts),
                (1, opened, open_ts),
                (2, clicked, click_ts),
                (3, unsub, unsub_ts),
            ):
                sel = slice(None) if mask is None else mask
                m = idx[sel].size
                cols["cust"].append(idx[sel].astype(np.int32))
                cols["ts"].append(when[sel])
                cols["channel"].append(np.full(m, ch_code, dtype=np.int16))
                cols["type"].append(np.full(m, type_code, dtype=np.int16))
                cols["campaign"].append(np.full(m, code, dtype=np.int16))
        month = month + np.timedelta64(1, "M")
    arrays = {k: np.concatenate(v) if v else np.array([], dtype=np.int64) for k, v in cols.items()}
    keep = arrays["ts"] <= t_last
    order = np.argsort(arrays["ts"][keep], kind="stable")
    arrays = {k: v[keep][order] for k, v in arrays.items()}
    events = pd.DataFrame(
        {
            "cust": arrays["cust"].astype(np.int64),
            "event_ts": start_ts + arrays["ts"].astype("timedelta64[s]"),
            "channel": _categorical(arrays["channel"], MSG_CHANNELS),
            "event_type": _categorical(arrays["type"], EVENT_TYPES),
            "campaign_id": _categorical(arrays["campaign"], campaigns),
        }
    )
    return events, campaigns


def _format_ts(values: pd.Series) -> pd.Series:
    return values.dt.strftime("%Y-%m-%d %H:%M:%S")


def _dirty(
    rng: np.random.Generator,
    transactions: pd.DataFrame,
    positive: np.ndarray,
    n_customers: int,
    dirty_rate: float,
    t_last: int,
    start_ts: np.datetime64,
    next_order_no: int,
) -> tuple[pd.DataFrame, dict[str, int]]:
    """Injected transaction rows as raw text, with their reason and file position.

    Each reason gets ``round(dirty_rate * n_orders / 8)`` rows (at least one when
    ``dirty_rate > 0``). Every row has exactly one defect; rows other than
    ``duplicate_row`` and ``conflicting_order`` get a fresh order id.
    """
    n_pos = int(positive.sum())
    per = 0 if dirty_rate <= 0 else max(1, round(dirty_rate * n_pos / len(DIRTY_REASONS)))
    counts = dict.fromkeys(DIRTY_REASONS, per)
    columns = [*TX_COLUMNS, "reason", "position"]
    if per == 0 or n_pos < per * len(DIRTY_REASONS):
        return pd.DataFrame({c: pd.Series(dtype="str") for c in columns}), dict.fromkeys(
            DIRTY_REASONS, 0
        )
    total = per * len(DIRTY_REASONS)
    template_idx = rng.choice(np.flatnonzero(positive), size=total, replace=False)
    rows = transactions.iloc[template_idx].reset_index(drop=True)
    text = pd.DataFrame(
        {
            "order_id": rows["order_id"].astype("str"),
            "customer_id": rows["customer_id"].astype("str"),
            "order_ts": _format_ts(rows["order_ts"]).astype("str"),
            "amount": pd.Series([f"{x:.2f}" for x in rows["amount"]], dtype="str"),
            "quantity": rows["quantity"].astype("str"),
            "product_id": rows["product_id"].astype("str"),
            "category": rows["category"].astype("str"),
            "channel": rows["channel"].astype("str"),
        }
    )
    reason = np.repeat(np.array(DIRTY_REASONS), per)
    text["reason"] = pd.array(reason, dtype="str")
    fresh = ~np.isin(reason, ["duplicate_row", "conflicting_order"])
    new_no = next_order_no + rng.permutation(int(fresh.sum()))
    text.loc[fresh, "order_id"] = _ids("O", new_no, 8).to_pylist()

    def where(r: str) -> np.ndarray:
        return reason == r

    text.loc[where("missing_customer_id"), "customer_id"] = pd.NA
    text.loc[where("bad_timestamp"), "order_ts"] = rng.choice(
        ["not-a-date", "2024-02-30 10:00:00", "31/12/2024 25:61", "yesterday"], per
    )
    text.loc[where("bad_amount"), "amount"] = rng.choice(["twelve", "n/a", "12.3.4", "EUR"], per)
    future = start_ts + (t_last + 1 + rng.integers(0, 365 * DAY_S, per)).astype("timedelta64[s]")
    text.loc[where("future_timestamp"), "order_ts"] = _format_ts(pd.Series(future)).to_numpy()
    conflict = where("conflicting_order")
    old_amount = rows.loc[conflict, "amount"].to_numpy()
    text.loc[conflict, "amount"] = [
        f"{x:.2f}" for x in np.round(old_amount * rng.uniform(1.2, 2.5, per) + 1, 2)
    ]
    switch = rng.random(per) < 0.5
    old_cust = rows.loc[conflict, "customer_id"].str.slice(1).astype(int).to_numpy()
    other = (old_cust - 1 + rng.integers(1, max(2, n_customers), per)) % n_customers + 1
    text.loc[conflict, "customer_id"] = np.where(switch, _ids("C", other, 7).to_numpy(zero_copy_only=False),
                                                 text.loc[conflict, "customer_id"].to_numpy())  # fmt: skip
    big = np.round(250_000 + rng.uniform(0, 750_000, per), 2)
    text.loc[where("amount_out_of_bounds"), "amount"] = [f"{x:.2f}" for x in big]
    text.loc[where("unknown_customer"), "customer_id"] = _ids(
        "C", n_customers + 1 + np.arange(per), 7
    ).to_pylist()
    text["position"] = rng.integers(0, len(transactions) + 1, total)
    text = text.sort_values(["position", "reason"], kind="stable").reset_index(drop=True)
    return text, counts


def _money_text(amount: np.ndarray) -> pa.Array:
    """Format money exactly with two decimals (via an Arrow decimal built from cents)."""
    cents = np.round(np.asarray(amount, dtype=float) * 100).astype(np.int64)
    words = np.empty((cents.size, 2), dtype=np.int64)
    words[:, 0], words[:, 1] = cents, cents >> 63
    decimals = pa.Array.from_buffers(pa.decimal128(18, 2), cents.size, [None, pa.py_buffer(words)])
    return pc.cast(decimals, pa.string())


@functools.cache
def _time_of_day_text() -> pa.Array:
    seconds = np.arange(DAY_S)
    return pa.array(
        [
            f"{h:02d}:{m:02d}:{x:02d}"
            for h, m, x in zip(seconds // 3600, seconds // 60 % 60, seconds % 60, strict=True)
        ]
    )


def _timestamp_text(stamps: np.ndarray) -> pa.Array:
    """Format ``datetime64`` values as ``YYYY-MM-DD HH:MM:SS`` (lookup tables, fast)."""
    seconds = stamps.astype("datetime64[s]").astype(np.int64)
    if seconds.size == 0:
        return pa.array([], type=pa.string())
    days = np.floor_divide(seconds, DAY_S)
    first_day = int(days.min())
    calendar = np.arange(first_day, int(days.max()) + 1).astype("datetime64[D]")
    day_text = pa.array([f"{d} " for d in np.datetime_as_string(calendar)])
    return pc.binary_join_element_wise(
        day_text.take(pa.array(days - first_day)),
        _time_of_day_text().take(pa.array(seconds - days * DAY_S)),
        "",
    )


def _text_chunk(frame: pd.DataFrame, money: Sequence[str]) -> pa.Table:
    """One chunk of a table as Arrow columns in the written text format."""
    columns: dict[str, pa.Array] = {}
    for name in frame.columns:
        values = frame[name]
        if name in money:
            columns[name] = _money_text(values.to_numpy())
        elif pd.api.types.is_datetime64_any_dtype(values.dtype):
            columns[name] = _timestamp_text(values.to_numpy())
        elif isinstance(values.dtype, pd.CategoricalDtype) or pd.api.types.is_string_dtype(
            values.dtype
        ):
            columns[name] = pa.Array.from_pandas(values).cast(pa.string())
        else:
            columns[name] = pa.Array.from_pandas(values)
    return pa.table(columns)


def _write_csv(
    frame: pd.DataFrame,
    path: Path,
    *,
    money: Sequence[str] = (),
    inserts: pd.DataFrame | None = None,
    chunk_rows: int = 1_000_000,
) -> None:
    """Write a frame as CSV in chunks; ``inserts`` (text rows with ``position``) are interleaved."""
    sink = (
        pa.CompressedOutputStream(str(path), "gzip")
        if path.suffix == ".gz"
        else pa.OSFile(str(path), "wb")
    )
    options = pcsv.WriteOptions(include_header=False, quoting_style="none")
    positions = (
        np.empty(0, dtype=np.int64) if inserts is None else inserts["position"].to_numpy(np.int64)
    )
    writer: pcsv.CSVWriter | None = None
    try:
        n_rows = len(frame)
        for lo in range(0, max(n_rows, 1), chunk_rows):
            hi = min(lo + chunk_rows, n_rows)
            chunk = _text_chunk(frame.iloc[lo:hi], money)
            if inserts is not None:
                chunk = chunk.cast(pa.schema([(c, pa.string()) for c in chunk.column_names]))
                take = (positions >= lo) & ((positions < hi) | (hi == n_rows))
                if take.any():
                    extra = pa.Table.from_pandas(
                        inserts.loc[take, list(frame.columns)], preserve_index=False
                    )
                    extra = extra.cast(chunk.schema)
                    keys = np.concatenate([2 * np.arange(lo, hi) + 1, 2 * positions[take]])
                    chunk = pa.concat_tables([chunk, extra]).take(
                        pa.array(np.argsort(keys, kind="stable"))
                    )
            if writer is None:
                sink.write((",".join(frame.columns) + "\n").encode())
                writer = pcsv.CSVWriter(sink, chunk.schema, write_options=options)
            writer.write_table(chunk)
    finally:
        if writer is not None:
            writer.close()
        sink.close()


def write(crm: SyntheticCRM, out_dir: str | Path, *, compress: bool = False) -> dict[str, Path]:
    """Write the four contract tables as CSV and the planted truth as ``truth.json``.

    Timestamps are written ``YYYY-MM-DD HH:MM:SS``, money with two decimals, booleans as
    ``true``/``false`` and missing values as empty fields. The injected dirty rows are
    interleaved with the valid transaction rows at their recorded positions.

    Parameters
    ----------
    crm : SyntheticCRM
        As returned by :func:`generate`.
    out_dir : str or Path
        Folder to write into; created if missing, existing files are replaced.
    compress : bool, default False
        Write ``*.csv.gz`` instead of ``*.csv``.

    Returns
    -------
    dict[str, Path]
        ``customers``, ``transactions``, ``events``, ``assignments`` and ``truth`` paths.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    suffix = ".csv.gz" if compress else ".csv"
    paths = {
        name: out / f"{name}{suffix}"
        for name in ("customers", "transactions", "events", "assignments")
    }
    _write_csv(crm.customers, paths["customers"])
    dirty = crm.dirty_transactions if len(crm.dirty_transactions) else None
    _write_csv(crm.transactions, paths["transactions"], money=["amount"], inserts=dirty)
    _write_csv(crm.events, paths["events"])
    _write_csv(crm.assignments, paths["assignments"], money=["cost"])
    paths["truth"] = out / "truth.json"
    paths["truth"].write_text(json.dumps(crm.truth, indent=2) + "\n")
    log.info("wrote %s", ", ".join(str(p) for p in paths.values()))
    return paths


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m crmlib.synth --customers N --seed S --out DIR``.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments without the program name; defaults to ``sys.argv[1:]``.

    Returns
    -------
    int
        Process exit status (0 on success).
    """
    parser = argparse.ArgumentParser(prog="python -m crmlib.synth", description=__doc__)
    parser.add_argument("--customers", type=int, required=True, help="number of customers")
    parser.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--start", default="2023-01-01", help="first day of the window, YYYY-MM-DD")
    parser.add_argument("--end", default="2025-12-31", help="last day of the window, YYYY-MM-DD")
    parser.add_argument(
        "--dirty-rate", type=float, default=0.002, help="injected bad rows per order (0 disables)"
    )
    parser.add_argument("--compress", action="store_true", help="write .csv.gz files")
    args = parser.parse_args(argv)
    crm = generate(
        args.customers, seed=args.seed, start=args.start, end=args.end, dirty_rate=args.dirty_rate
    )
    paths = write(crm, args.out, compress=args.compress)
    for path in paths.values():
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
