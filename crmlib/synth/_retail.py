"""The retail-log profile: a line-item retail export with guests, cancellations and wholesale orders."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from crmlib.synth._common import Window, pick, str_series
from crmlib.synth._constants import DAY_S
from crmlib.synth._retail_catalog import (
    COUNTRIES,
    COUNTRY_P,
    INVOICE_START,
    RETAIL,
    RETAIL_COLUMNS,
    RETAIL_END,
    RETAIL_START,
    Catalog,
    draw_catalog,
)
from crmlib.synth._retail_lines import (
    Lines,
    cancel_lines,
    draw_line_counts,
    draw_lines,
    invoice_totals,
    tick_times,
    time_of_day_s,
)
from crmlib.synth._retail_truth import retail_truth

__all__ = ["RetailLog", "generate_retail_log"]

log = logging.getLogger(__name__)

PURCHASE, CANCELLATION, GUEST = 0, 1, 2  # invoice kinds
FIRST_CUSTOMER_ID = 12_346  # customer ids are FIRST_CUSTOMER_ID + a permutation of 0..n-1
# latest start of a cancellation invoice: its lines (at most 3 minutes) stay inside the window
CANCEL_MARGIN_S = 240


@dataclass(frozen=True)
class RetailLog:
    """A generated line-item retail log and its planted truth.

    Attributes
    ----------
    lines : pd.DataFrame
        One row per invoice line, in file order (by invoice number, then line), with the
        columns of :data:`RETAIL_COLUMNS`: *Invoice* (``str``: a number, ``C`` + a number on
        cancellation invoices), *StockCode*, *Description* (``category``), *Quantity*
        (``int64``, negative on cancellations), *InvoiceDate* (``datetime64[s]``, whole
        minutes), *Price* (``float64``, a whole number of thousandths of a pound), *Customer ID*
        (``Int64``, missing on guest invoices), *Country* (``category``).
    truth : dict
        Planted parameters and realized counts (written as ``truth.json``).
    latent : pd.DataFrame
        One row per customer of the simulated business (also those absent from the file):
        *customer_id, lambda_per_week, first_purchase_ts, present_at_start,
        n_purchases_before_start, wholesale, in_file*. Never read by the workbook.
    """

    lines: pd.DataFrame
    truth: dict[str, Any]
    latent: pd.DataFrame


@dataclass(frozen=True)
class _People:
    """The simulated customers; element ``i`` is customer ``customer_id[i]``."""

    customer_id: np.ndarray  # int64
    first_s: np.ndarray  # real first purchase, seconds since the window start (< 0 before it)
    lam_week: np.ndarray  # purchase rate per week
    wholesale: np.ndarray  # bool
    country: np.ndarray  # index into COUNTRIES
    n_before: np.ndarray  # purchases before the window (0 for customers acquired inside it)

    @property
    def present_at_start(self) -> np.ndarray:
        """Customers whose first purchase precedes the window."""
        return self.first_s < 0


def _draw_people(rng: np.random.Generator, n: int, window: Window) -> _People:
    """Customers acquired uniformly from ``history_days`` before the window to its last day."""
    acq_day = rng.uniform(-RETAIL["history_days"], window.n_days, n)
    first_s = np.floor(acq_day).astype(np.int64) * DAY_S + time_of_day_s(rng, n)
    lam_week = rng.gamma(RETAIL["rate_r"], 1.0 / RETAIL["rate_alpha_weeks"], n)
    n_wholesale = max(1, round(RETAIL["wholesale_customer_share"] * n))
    wholesale = np.zeros(n, dtype=bool)
    wholesale[rng.choice(n, min(n_wholesale, n), replace=False)] = True
    country = pick(rng, COUNTRY_P, n)
    before = first_s < 0
    n_before = np.where(
        before, 1 + rng.poisson(lam_week / 7.0 * np.maximum(-acq_day, 0.0)), 0
    ).astype(np.int64)
    customer_id = FIRST_CUSTOMER_ID + rng.permutation(n).astype(np.int64)
    return _People(customer_id, first_s, lam_week, wholesale, country, n_before)


def _draw_purchase_times(
    rng: np.random.Generator, people: _People, window: Window
) -> tuple[np.ndarray, np.ndarray]:
    """Customer index and start second of every purchase invoice inside the window.

    No dropout: each customer buys as a Poisson process with its rate (NBD). A customer
    acquired inside the window buys first at acquisition; repeats are uniform between
    ``max(acquisition, window start)`` and the window end (a repeat is at least an hour after
    the first purchase).
    """
    n = people.first_s.size
    lo_day = np.maximum(people.first_s, 0) / DAY_S
    span_day = window.n_days - lo_day
    n_rep = rng.poisson(people.lam_week / 7.0 * span_day)
    owner = np.repeat(np.arange(n, dtype=np.int64), n_rep)
    rep_day = lo_day[owner] + rng.random(owner.size) * span_day[owner]
    rep_s = np.floor(rep_day).astype(np.int64) * DAY_S + time_of_day_s(rng, owner.size)
    rep_s = np.maximum(rep_s, people.first_s[owner] + 3600)
    new = np.flatnonzero(~people.present_at_start)
    cust = np.concatenate([new, owner])
    start_s = np.concatenate([people.first_s[new], rep_s])
    return cust, start_s


def _cancellation_starts(rng: np.random.Generator, start_s: np.ndarray) -> np.ndarray:
    """Start seconds of cancellation invoices of purchases started at ``start_s``.

    The same day (``cancellation_same_day_share``, 4 minutes after the purchase plus an
    exponential delay of mean 1 hour), else 1-30 days later at a time of day in opening hours.
    """
    size = start_s.size
    same_day = rng.random(size) < RETAIL["cancellation_same_day_share"]
    soon = start_s + CANCEL_MARGIN_S + (60 * rng.exponential(60.0, size)).astype(np.int64)
    days = rng.integers(1, 31, size)
    later = (start_s // DAY_S + days) * DAY_S + time_of_day_s(rng, size)
    return np.where(same_day, soon, later)


def _line_frame(
    catalog: Catalog,
    *,
    number: np.ndarray,
    is_cancellation: np.ndarray,
    product: np.ndarray,
    qty: np.ndarray,
    price_milli: np.ndarray,
    ts_s: np.ndarray,
    customer_id: np.ndarray,
    country: np.ndarray,
    start_ts: np.datetime64,
) -> pd.DataFrame:
    """The lines as a frame with the file's columns (one row per line, in file order)."""
    prefix = pc.if_else(pa.array(is_cancellation, type=pa.bool_()), "C", "")
    invoice = pc.binary_join_element_wise(
        prefix, pa.array(number, type=pa.int64()).cast(pa.string()), ""
    )
    return pd.DataFrame(
        {
            "Invoice": str_series(invoice),
            "StockCode": pd.Categorical.from_codes(product, categories=catalog.stock_code),
            "Description": pd.Categorical.from_codes(product, categories=catalog.description),
            "Quantity": qty,
            "InvoiceDate": start_ts + ts_s.astype("timedelta64[s]"),
            "Price": price_milli / 1000.0,
            "Customer ID": pd.arrays.IntegerArray(
                np.where(customer_id >= 0, customer_id, 0), mask=customer_id < 0
            ),
            "Country": pd.Categorical.from_codes(country, categories=COUNTRIES),
        },
        columns=RETAIL_COLUMNS,
    )


def generate_retail_log(
    n_customers: int,
    *,
    seed: int = 42,
    start: str = RETAIL_START,
    end: str = RETAIL_END,
) -> RetailLog:
    """Generate a line-item retail export (the ``retail-log`` profile) with planted truth.

    The business exists ``history_days`` (730) before the export's first day: customers are
    acquired uniformly from then to the last day, so many customers' first purchase in the file
    is not their first. Customers buy as a Poisson process with rate lambda ~ Gamma(r, alpha)
    per week and never drop out (NBD; 1% of them are wholesalers whose invoices are large in
    30% of cases). Each invoice has about 8 lines (1 + negative binomial; a large invoice has
    20-60 lines and a total of 12,000-30,000 with every line below 10,000), timestamps
    ticking over 1-3 minutes, 0.5% free (zero-price) lines, 3% discounted prices with
    fractions of a cent; 0.3% of the purchase invoices are made only of zero-price lines.
    8% of the identified purchase invoices are followed by a cancellation invoice (its own
    number, ``C`` + number, negative quantities of products of that invoice). Guest invoices
    (no customer id) are added until they hold 25% of all lines. Everything realized is
    counted in ``truth`` with exact decimal arithmetic (integers in thousandths of a pound).

    Parameters
    ----------
    n_customers : int
        Customers of the simulated business; those without a purchase inside the window
        (acquired before it, with a low rate) are not in the file.
    seed : int, default 42
        Seed of :func:`numpy.random.default_rng`; the same seed gives an identical log.
    start, end : str, default "2024-01-01", "2025-12-31"
        First and last day (inclusive) of the export, ``YYYY-MM-DD``, at least 400 days apart.

    Returns
    -------
    RetailLog
        The lines, the truth and the per-customer latent values.

    References
    ----------
    Ehrenberg, A. S. C. (1959). The pattern of consumer purchases. Journal of the Royal
    Statistical Society, Series C, 8(1), 26-41 (the NBD purchase model without dropout).
    Chen, D. (2012). Online Retail II data set. UCI Machine Learning Repository (the export
    whose layout the file follows).

    Examples
    --------
    >>> retail = generate_retail_log(300, seed=1)
    >>> retail.truth["realized"]["n_lines"] == len(retail.lines), list(retail.lines)[:3]
    (True, ['Invoice', 'StockCode', 'Description'])
    """
    if n_customers < 1:
        raise ValueError(f"n_customers={n_customers}: expected a positive integer")
    rng = np.random.default_rng(seed)  # the steps below draw from it in this fixed order
    window = Window.from_dates(start, end)
    catalog = draw_catalog(rng, int(RETAIL["n_products"]))
    people = _draw_people(rng, n_customers, window)

    # identified purchase invoices and their lines
    cust, start_s = _draw_purchase_times(rng, people, window)
    n_bought = cust.size
    large = people.wholesale[cust] & (rng.random(n_bought) < RETAIL["wholesale_large_share"])
    zero = ~large & (rng.random(n_bought) < RETAIL["zero_value_order_share"])
    bought_counts = draw_line_counts(rng, large=large, zero=zero)
    bought = draw_lines(rng, bought_counts, large=large, zero=zero, catalog=catalog)
    bought_ts = tick_times(rng, start_s, bought)

    # cancellation invoices of identified purchases with a positive total
    cancelled = (invoice_totals(bought, n_bought) > 0) & (
        rng.random(n_bought) < RETAIL["cancellation_share"]
    )
    cancel_start = _cancellation_starts(rng, start_s[cancelled])
    in_window = cancel_start <= window.t_last - CANCEL_MARGIN_S
    cancelled[np.flatnonzero(cancelled)[~in_window]] = False
    cancel_start = cancel_start[in_window]
    cancels = cancel_lines(rng, bought, cancelled=cancelled)
    cancel_ts = tick_times(rng, cancel_start, cancels)

    # guest invoices until they hold guest_line_share of all lines; the target counts lines
    # before a product repeated on an invoice is dropped, so it is scaled by the share kept
    share = RETAIL["guest_line_share"]
    kept = bought.inv.size / max(int(bought_counts.sum()), 1)
    target = round(share / (1.0 - share) * (bought.inv.size + cancels.inv.size) / max(kept, 0.5))
    pool = int(np.ceil(2.0 * target / (1.0 + RETAIL["lines_extra_mean"]))) + 10
    guest_zero = rng.random(pool) < RETAIL["zero_value_order_share"]
    no_large = np.zeros(pool, dtype=bool)
    guest_counts = draw_line_counts(rng, large=no_large, zero=guest_zero)
    n_guest = min(pool, int(np.searchsorted(np.cumsum(guest_counts), target)) + 1) if target else 0
    guests = draw_lines(
        rng,
        guest_counts[:n_guest],
        large=no_large[:n_guest],
        zero=guest_zero[:n_guest],
        catalog=catalog,
    )
    guest_start = rng.integers(0, window.n_days, n_guest) * DAY_S + time_of_day_s(rng, n_guest)
    guest_country = pick(rng, COUNTRY_P, n_guest)
    guest_ts = tick_times(rng, guest_start, guests)

    # one invoice table: numbered in the order of their start (purchases before cancellations)
    cancel_cust = cust[cancelled]
    blocks: list[tuple[int, np.ndarray, Lines, np.ndarray]] = [
        (PURCHASE, start_s, bought, bought_ts),
        (CANCELLATION, cancel_start, cancels, cancel_ts),
        (GUEST, guest_start, guests, guest_ts),
    ]
    kind = np.concatenate([np.full(b[1].size, b[0], dtype=np.int8) for b in blocks])
    inv_start = np.concatenate([b[1] for b in blocks])
    inv_cust = np.concatenate([cust, cancel_cust, np.full(n_guest, -1, dtype=np.int64)])
    inv_country = np.concatenate(
        [people.country[cust], people.country[cancel_cust], guest_country]
    ).astype(np.int64)
    offsets = np.cumsum([0] + [b[1].size for b in blocks])
    number = np.empty(kind.size, dtype=np.int64)
    number[np.lexsort((kind, inv_start))] = INVOICE_START + np.arange(kind.size)

    line_inv = np.concatenate([b[2].inv + off for b, off in zip(blocks, offsets, strict=False)])
    pos = np.concatenate([b[2].pos for b in blocks])
    file_order = np.lexsort((pos, number[line_inv]))
    line_inv = line_inv[file_order]
    product = np.concatenate([b[2].product for b in blocks])[file_order]
    qty = np.concatenate([b[2].qty for b in blocks])[file_order]
    price_milli = np.concatenate([b[2].price_milli for b in blocks])[file_order]
    ts_s = np.concatenate([b[3] for b in blocks])[file_order]
    line_cust = inv_cust[line_inv]

    latent = pd.DataFrame(
        {
            "customer_id": people.customer_id,
            "lambda_per_week": people.lam_week,
            "first_purchase_ts": window.start_ts + people.first_s.astype("timedelta64[s]"),
            "present_at_start": people.present_at_start,
            "n_purchases_before_start": people.n_before,
            "wholesale": people.wholesale,
            "in_file": np.bincount(cust, minlength=n_customers) > 0,
        }
    )
    truth = retail_truth(
        {
            "profile": "retail-log",
            "n_customers": n_customers,
            "seed": seed,
            "start": start,
            "end": end,
        },  # fmt: skip
        kind=kind[line_inv],
        line_inv=line_inv,
        customer=line_cust,
        qty=qty,
        price_milli=price_milli,
        ts_s=ts_s,
        large_invoices=int(large.sum()),
        latent=latent,
        window=window,
    )
    lines = _line_frame(
        catalog,
        number=number[line_inv],
        is_cancellation=kind[line_inv] == CANCELLATION,
        product=product,
        qty=qty,
        price_milli=price_milli,
        ts_s=ts_s,
        customer_id=np.where(line_cust >= 0, people.customer_id[line_cust], -1),
        country=inv_country[line_inv],
        start_ts=window.start_ts,
    )
    log.info("generated a retail log: %d customers, %d lines", n_customers, len(lines))
    return RetailLog(lines=lines, truth=truth, latent=latent)
