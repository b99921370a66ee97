"""Refunds of the synthetic CRM: refunds of orders, orphan refunds, and their merge by time."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from crmlib.synth._common import pick
from crmlib.synth._constants import (
    AMOUNT_CAP,
    CATEGORY_P,
    DAY_S,
    ORPHAN_REFUND_SHARE,
    PRODUCTS_PER_CATEGORY,
    REFUND_SHARE,
)
from crmlib.synth._customers import CustomerDraws
from crmlib.synth._orders import pair_codes, product_weights

__all__ = ["Refunds", "draw_refunds", "merge_rows"]


@dataclass(frozen=True)
class Refunds:
    """The negative transaction rows, as order columns sorted by time, and their counts."""

    rows: dict[str, np.ndarray]  # the same keys as the order columns
    n_refunded: int  # refunds of orders in the file (same order_no)
    n_orphans: int  # refunds of orders not in the file (fresh order_no)


def _refunds_of_orders(
    rng: np.random.Generator, orders: dict[str, np.ndarray], *, t_last: int
) -> dict[str, np.ndarray]:
    """Refunds of ``REFUND_SHARE`` of the orders within 30 days; 60% full, else partial."""
    ts, amount, quantity = orders["ts"], orders["amount"], orders["quantity"]
    refunded = np.flatnonzero(rng.random(ts.size) < REFUND_SHARE)
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
    return {
        "order_no": refunded + 1,
        "cust": orders["cust"][refunded],
        "ts": ref_ts,
        "amount": ref_amount,
        "quantity": ref_qty,
        "product": orders["product"][refunded],
        "cat": orders["cat"][refunded],
        "och": orders["och"][refunded],
    }


def _orphan_refunds(
    rng: np.random.Generator,
    *,
    n_orders: int,
    customers: CustomerDraws,
    nu: np.ndarray,
    par: dict[str, np.ndarray],
    t_last: int,
) -> dict[str, np.ndarray]:
    """Refunds of orders that are not in the file (about ``ORPHAN_REFUND_SHARE`` per order)."""
    n_orph = int(rng.binomial(n_orders, ORPHAN_REFUND_SHARE))
    signup_s, cluster = customers.signup_s, customers.cluster
    orph_cust = rng.integers(0, customers.n, n_orph)
    orph_ts = signup_s[orph_cust] + (rng.random(n_orph) * (t_last - signup_s[orph_cust])).astype(
        np.int64
    )
    orph_amount = -np.clip(
        np.round(rng.gamma(par["spend_p"][customers.chan][orph_cust], 1.0 / nu[orph_cust]), 2),
        1.0,
        AMOUNT_CAP,
    )
    orph_cat = np.where(
        cluster[orph_cust] >= 0,
        pair_codes()[np.maximum(cluster[orph_cust], 0), 0],
        pick(rng, CATEGORY_P, n_orph),
    )
    orph_product = (
        orph_cat.astype(np.int32) * PRODUCTS_PER_CATEGORY + pick(rng, product_weights(), n_orph) + 1
    )
    return {
        "order_no": n_orders + 1 + np.arange(n_orph),
        "cust": orph_cust,
        "ts": orph_ts,
        "amount": orph_amount,
        "quantity": -np.ones(n_orph, dtype=np.int64),
        "product": orph_product,
        "cat": orph_cat.astype(np.int16),
        "och": customers.pref_order_channel[orph_cust],
    }


def draw_refunds(
    rng: np.random.Generator,
    orders: dict[str, np.ndarray],
    *,
    customers: CustomerDraws,
    nu: np.ndarray,
    par: dict[str, np.ndarray],
    t_last: int,
) -> Refunds:
    """Refunds (same order_id, negative amount) and orphan refunds (order not in the file)."""
    of_orders = _refunds_of_orders(rng, orders, t_last=t_last)
    orphans = _orphan_refunds(
        rng, n_orders=orders["ts"].size, customers=customers, nu=nu, par=par, t_last=t_last
    )
    rows = {key: np.concatenate([of_orders[key], orphans[key]]) for key in of_orders}
    rows["cust"] = rows["cust"].astype(np.int32)
    by_time = np.argsort(rows["ts"], kind="stable")
    return Refunds(
        rows={key: values[by_time] for key, values in rows.items()},
        n_refunded=int(of_orders["ts"].size),
        n_orphans=int(orphans["ts"].size),
    )


def merge_rows(
    orders: dict[str, np.ndarray], extra: dict[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """Merge the (few) time-sorted ``extra`` rows into the time-sorted orders.

    Avoids a full re-sort: each extra row goes after the orders at the same time. Empties
    ``orders`` column by column as it goes, to keep the peak memory low.
    """
    n_orders, n_extra = orders["ts"].size, extra["ts"].size
    slots = np.searchsorted(orders["ts"], extra["ts"], side="right") + np.arange(n_extra)
    is_extra = np.zeros(n_orders + n_extra, dtype=bool)
    is_extra[slots] = True
    tx: dict[str, np.ndarray] = {}
    for key in orders:
        merged = np.empty(is_extra.size, dtype=np.result_type(orders[key], extra[key]))
        merged[slots] = extra[key]
        merged[~is_extra] = orders[key]
        tx[key] = merged
        orders[key] = np.empty(0)
    return tx
