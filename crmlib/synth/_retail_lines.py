"""Invoice lines of the retail-log profile: products, quantities, prices and minute ticks."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from crmlib.synth._common import pick
from crmlib.synth._retail_catalog import (
    DISCOUNTS,
    LINE_AMOUNT_LIMIT_MILLI,
    QUANTITIES,
    QUANTITY_P,
    RETAIL,
    Catalog,
)

__all__ = [
    "Lines",
    "cancel_lines",
    "draw_line_counts",
    "draw_lines",
    "group_starts",
    "invoice_totals",
    "tick_times",
    "time_of_day_s",
]


@dataclass(frozen=True)
class Lines:
    """Lines of a block of invoices, sorted by invoice then position; one element per line.

    ``inv`` indexes the block's invoices; amounts are ``qty * price_milli`` thousandths of a
    pound, exactly.
    """

    inv: np.ndarray  # int64, the invoice of the line (index into the block's invoices)
    pos: np.ndarray  # int64, 0-based position of the line within its invoice
    product: np.ndarray  # int64, index into the catalog
    qty: np.ndarray  # int64, negative on cancellation invoices
    price_milli: np.ndarray  # int64, unit price in thousandths of a pound (>= 0)

    @property
    def amount_milli(self) -> np.ndarray:
        """Line amounts, ``qty * price_milli`` (exact integers)."""
        return self.qty * self.price_milli


def time_of_day_s(rng: np.random.Generator, size: int) -> np.ndarray:
    """Seconds after midnight of invoices: Normal(12.5 h, 2.5 h) within the opening hours."""
    open_s, close_s = RETAIL["shop_open_hour"] * 3600, RETAIL["shop_close_hour"] * 3600 - 1
    seconds = rng.normal(12.5 * 3600, 2.5 * 3600, size)
    return np.clip(seconds, open_s, close_s).astype(np.int64)


def draw_line_counts(
    rng: np.random.Generator, *, large: np.ndarray, zero: np.ndarray
) -> np.ndarray:
    """Lines per invoice: 1 + NegBin (mean 8), 20-60 on large invoices, 1-3 on zero-value ones."""
    size = large.size
    n_nb, mean = RETAIL["lines_extra_n"], RETAIL["lines_extra_mean"]
    lines = np.minimum(
        1 + rng.negative_binomial(n_nb, n_nb / (n_nb + mean), size), int(RETAIL["lines_max"])
    )
    wholesale = rng.integers(
        int(RETAIL["wholesale_lines_min"]), int(RETAIL["wholesale_lines_max"]) + 1, size
    )
    free = 1 + rng.binomial(2, 0.3, size)
    return np.where(large, wholesale, np.where(zero, free, lines)).astype(np.int64)


def group_starts(inv: np.ndarray, n_invoices: int) -> np.ndarray:
    """Index of the first line of each invoice in lines sorted by ``inv`` (every invoice has one)."""
    return np.searchsorted(inv, np.arange(n_invoices))


def invoice_totals(lines: Lines, n_invoices: int) -> np.ndarray:
    """Exact invoice totals in thousandths of a pound (``int64``)."""
    if n_invoices == 0:
        return np.zeros(0, dtype=np.int64)
    return np.add.reduceat(lines.amount_milli, group_starts(lines.inv, n_invoices))


def draw_lines(
    rng: np.random.Generator,
    n_lines: np.ndarray,
    *,
    large: np.ndarray,
    zero: np.ndarray,
    catalog: Catalog,
) -> Lines:
    """The lines of a block of purchase invoices (one element of the arguments per invoice).

    Products are drawn by popularity; a product drawn twice on one invoice keeps its first line,
    so no two lines of an invoice are alike. Quantities come from :data:`QUANTITIES`; a large
    (wholesale) invoice instead spreads a total of 12,000-30,000 over its lines (Dirichlet
    weights), every line staying below 10,000. Prices are the list price, a discounted price
    rounded to 0.001 on ``discount_line_share`` of the lines, 0 on ``zero_price_line_share`` of
    them and on every line of a ``zero`` invoice.
    """
    n_invoices = n_lines.size
    inv = np.repeat(np.arange(n_invoices, dtype=np.int64), n_lines)
    product = pick(rng, catalog.weight, inv.size).astype(np.int64)
    order = np.lexsort((product, inv))
    first = np.ones(order.size, dtype=bool)
    first[1:] = (inv[order][1:] != inv[order][:-1]) | (product[order][1:] != product[order][:-1])
    kept = order[first]
    shuffle = rng.random(kept.size)  # lines keep no product order within an invoice
    kept = kept[np.lexsort((shuffle, inv[kept]))]
    inv, product = inv[kept], product[kept]
    n_total = inv.size
    pos = np.arange(n_total) - group_starts(inv, n_invoices)[inv]

    price = catalog.list_price_milli[product]
    discounted = rng.random(n_total) < RETAIL["discount_line_share"]
    rate = np.asarray(DISCOUNTS)[rng.integers(0, len(DISCOUNTS), n_total)]
    price = np.where(discounted, np.rint(price * (1.0 - rate)).astype(np.int64), price)
    free = (rng.random(n_total) < RETAIL["zero_price_line_share"]) | zero[inv]
    price = np.where(free, 0, price)
    qty = np.asarray(QUANTITIES, dtype=np.int64)[pick(rng, QUANTITY_P, n_total)]

    weight = rng.gamma(2.0, 1.0, n_total) * large[inv]
    weight_sum = np.bincount(inv, weights=weight, minlength=n_invoices)
    target = rng.uniform(RETAIL["wholesale_total_min"], RETAIL["wholesale_total_max"], n_invoices)
    target_milli = 1000.0 * target[inv] * weight / np.maximum(weight_sum[inv], 1e-300)
    wholesale_qty = np.ceil(target_milli / np.maximum(price, 1)).astype(np.int64)
    qty = np.where(large[inv] & (price > 0), np.maximum(wholesale_qty, 1), qty)
    qty = np.minimum(qty, (LINE_AMOUNT_LIMIT_MILLI - 1) // np.maximum(price, 1))
    return Lines(inv=inv, pos=pos, product=product, qty=qty, price_milli=price)


def cancel_lines(
    rng: np.random.Generator,
    lines: Lines,
    *,
    cancelled: np.ndarray,
) -> Lines:
    """The lines of cancellation invoices, one invoice per ``True`` of ``cancelled``.

    Each cancels 1 + Binomial(priced lines - 1, ``cancellation_line_p``) distinct priced lines of
    its purchase invoice: the whole quantity with probability ``cancellation_full_share``, else
    ceil(quantity x Uniform(0.1, 0.9)); quantities are negative, prices the original ones.
    ``inv`` of the result indexes the cancellation invoices in the order of
    ``np.flatnonzero(cancelled)``.
    """
    n_invoices = cancelled.size
    priced = lines.price_milli > 0
    n_priced = np.bincount(lines.inv, weights=priced, minlength=n_invoices).astype(np.int64)
    k = 1 + rng.binomial(np.maximum(n_priced - 1, 0), RETAIL["cancellation_line_p"])
    key = np.where(priced, rng.random(lines.inv.size), 2.0)
    order = np.lexsort((key, lines.inv))
    rank = np.arange(order.size) - group_starts(lines.inv[order], n_invoices)[lines.inv[order]]
    chosen = order[(rank < k[lines.inv[order]]) & cancelled[lines.inv[order]] & priced[order]]
    chosen = chosen[np.lexsort((lines.pos[chosen], lines.inv[chosen]))]
    qty = lines.qty[chosen]
    full = rng.random(chosen.size) < RETAIL["cancellation_full_share"]
    part = np.ceil(qty * rng.uniform(0.1, 0.9, chosen.size)).astype(np.int64)
    returned = np.where(full, qty, np.clip(part, 1, qty))
    new_inv = (np.cumsum(cancelled) - 1)[lines.inv[chosen]]
    n_new = int(cancelled.sum())
    pos = np.arange(chosen.size) - group_starts(new_inv, n_new)[new_inv]
    return Lines(
        inv=new_inv,
        pos=pos,
        product=lines.product[chosen],
        qty=-returned,
        price_milli=lines.price_milli[chosen],
    )


def tick_times(rng: np.random.Generator, start_s: np.ndarray, lines: Lines) -> np.ndarray:
    """Line timestamps (seconds, whole minutes): an invoice's lines are written over minutes.

    Lines are written ``seconds_per_line`` ~ Uniform(0.5, 3) apart from the invoice's start
    second (at most ``invoice_write_max_s`` = 180 s for the whole invoice), and each line
    carries the minute it was written in: a 40-line invoice spans 1-3 minute ticks, and no
    invoice spans more than 3 minutes from its first line to its last.
    """
    n_invoices = start_s.size
    n_lines = np.bincount(lines.inv, minlength=n_invoices)
    per_line = rng.uniform(
        RETAIL["seconds_per_line_min"], RETAIL["seconds_per_line_max"], n_invoices
    )
    per_line = np.minimum(per_line, RETAIL["invoice_write_max_s"] / np.maximum(n_lines - 1, 1))
    written = start_s[lines.inv] + np.floor(lines.pos * per_line[lines.inv]).astype(np.int64)
    return written // 60 * 60
