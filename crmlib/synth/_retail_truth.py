"""The planted truth of a retail log: parameters and realized counts, money in exact decimals."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from crmlib.synth._common import Window
from crmlib.synth._constants import DAY_S
from crmlib.synth._retail_catalog import (
    LINE_AMOUNT_LIMIT_MILLI,
    RETAIL,
    RETAIL_COLUMNS,
    RETAIL_VERSION,
)

__all__ = ["money", "retail_truth"]

CANCELLATION, GUEST = 1, 2  # invoice kinds (0 is an identified purchase)
LARGE_ORDER_MILLI = 10_000_000  # "orders over 10,000": invoice totals above this

NOTES = {
    "money": "amounts are exact decimals (GBP, at most 3 decimals): sums of Quantity x Price over the printed values, computed in integer thousandths of a pound; read truth.json with json.loads(text, parse_float=decimal.Decimal) to keep them exact",
    "invoice": "one Invoice value = one order; cancellation invoices are 'C' + a number, every line with a negative Quantity; all other invoices are purchase invoices (positive Quantity)",
    "guest": "a guest invoice has no Customer ID on any of its lines; cancellations are never guest invoices",
    "n_purchase_invoices": "purchase invoices (orders), identified plus guest, including zero-value ones",
    "n_zero_value_orders": "purchase invoices whose total is exactly 0 (every line has Price 0)",
    "n_customers_only_zero_value": "identified customers all of whose purchase invoices in the file total 0",
    "n_orders_over_10000": "purchase invoices whose total exceeds 10,000 (every single line is below 10,000)",
    "n_customers_present_at_start": "identified customers in the file whose real first purchase precedes the file's first day (their first purchase in the file is not their first)",
    "mean_rate_per_week": "planted: r / alpha, the mean of the Gamma(r, alpha) purchase rate per week over all customers of the business; realized_mean_rate_per_week_in_file: mean planted rate of the customers in the file (customers with a low rate acquired before the window are more often absent); the process has no dropout",
    "n_multi_minute_invoices": "invoices whose lines carry more than one timestamp (minute ticks); max_invoice_span_minutes is the largest difference between an invoice's first and last line",
    "rows": "a line is one data row of transactions.csv; truth_customers.csv has one row per customer of the business (also those without a purchase in the file)",
}


def money(milli: int | np.integer) -> float:
    """An exact amount in thousandths as a float whose shortest repr is the exact decimal.

    Examples
    --------
    >>> money(2326534354), money(-16448)
    (2326534.354, -16.448)
    """
    return float(Decimal(int(milli)).scaleb(-3))


def _ts_text(seconds: int | np.integer, window: Window) -> str:
    return str(window.start_ts + np.timedelta64(int(seconds), "s")).replace("T", " ")


def retail_truth(
    generator: dict[str, Any],
    *,
    kind: np.ndarray,
    line_inv: np.ndarray,
    customer: np.ndarray,
    qty: np.ndarray,
    price_milli: np.ndarray,
    ts_s: np.ndarray,
    large_invoices: int,
    latent: pd.DataFrame,
    window: Window,
) -> dict[str, Any]:
    """Everything planted and realized in a retail log, as written to ``truth.json``.

    Every argument but ``generator``, ``latent`` and ``window`` has one element per line in
    file order (the lines of an invoice are contiguous): ``kind`` of the line's invoice (0
    identified purchase, 1 cancellation, 2 guest purchase), ``line_inv`` (invoice index),
    ``customer`` (row of ``latent``, -1 on guest lines), ``qty``, ``price_milli`` (thousandths
    of a pound) and ``ts_s`` (seconds since the window start). ``large_invoices`` is the
    number of planted wholesale invoices.
    """
    amount = qty * price_milli
    n_lines = int(amount.size)
    starts = (
        np.flatnonzero(np.r_[True, line_inv[1:] != line_inv[:-1]])
        if n_lines
        else np.empty(0, dtype=np.int64)
    )
    if n_lines:
        total = np.add.reduceat(amount, starts)
        span_s = np.maximum.reduceat(ts_s, starts) - np.minimum.reduceat(ts_s, starts)
    else:
        total = span_s = np.empty(0, dtype=np.int64)
    inv_kind, inv_cust = kind[starts], customer[starts]
    purchase = inv_kind != CANCELLATION
    identified = purchase & (inv_kind != GUEST)
    guest_line = kind == GUEST
    in_file = np.unique(inv_cust[identified])
    best = np.full(len(latent), -1, dtype=np.int64)
    np.maximum.at(best, inv_cust[identified], total[identified])
    present = latent["present_at_start"].to_numpy()[in_file]
    rate_in_file = latent["lambda_per_week"].to_numpy()[in_file]
    r, alpha = RETAIL["rate_r"], RETAIL["rate_alpha_weeks"]
    first_ts = int(ts_s.min()) if n_lines else 0
    last_ts = int(ts_s.max()) if n_lines else 0
    realized = {
        "n_lines": n_lines,
        "n_guest_lines": int(guest_line.sum()),
        "guest_line_share": float(guest_line.mean()) if n_lines else 0.0,
        "guest_revenue": money(amount[guest_line].sum()),
        "n_identified_customers": int(in_file.size),
        "n_invoices": int(starts.size),
        "n_purchase_invoices": int(purchase.sum()),
        "n_purchase_invoices_identified": int(identified.sum()),
        "n_purchase_invoices_guest": int((inv_kind == GUEST).sum()),
        "n_cancellation_invoices": int((~purchase).sum()),
        "n_cancellation_lines": int((kind == CANCELLATION).sum()),
        "total_amount": money(amount.sum()),
        "purchase_amount": money(total[purchase].sum()),
        "identified_purchase_amount": money(total[identified].sum()),
        "cancellation_amount": money(total[~purchase].sum()),
        "n_orders_over_10000": int((purchase & (total > LARGE_ORDER_MILLI)).sum()),
        "n_large_invoices_planted": large_invoices,
        "max_order_amount": money(total[purchase].max()) if purchase.any() else 0.0,
        "max_line_amount": money(np.abs(amount).max()) if n_lines else 0.0,
        "n_zero_value_orders": int((purchase & (total == 0)).sum()),
        "n_zero_value_orders_identified": int((identified & (total == 0)).sum()),
        "n_customers_only_zero_value": int((best == 0).sum()),
        "n_zero_price_lines": int((price_milli == 0).sum()),
        "n_fraction_of_cent_price_lines": int((price_milli % 10 != 0).sum()),
        "n_multi_minute_invoices": int((span_s > 0).sum()),
        "max_invoice_span_minutes": int(span_s.max() // 60) if n_lines else 0,
        "n_customers_present_at_start": int(present.sum()),
        "n_customers_acquired_in_window": int((~present).sum()),
        "n_business_customers_before_start": int(latent["present_at_start"].sum()),
        "realized_mean_rate_per_week_in_file": float(rate_in_file.mean()) if in_file.size else None,
        "first_ts": _ts_text(first_ts, window) if n_lines else None,
        "last_ts": _ts_text(last_ts, window) if n_lines else None,
        "span_days": round((last_ts - first_ts) / DAY_S, 4),
    }
    return {
        "generator": {**generator, "version": RETAIL_VERSION},
        "file": {
            "transactions": "transactions.csv (.csv.gz with --compress)",
            "columns": list(RETAIL_COLUMNS),
            "timestamp_format": "%Y-%m-%d %H:%M:%S",
            "currency": "GBP",
            "as_of_date": generator["end"],
        },
        "planted": {
            "purchase_process": "NBD: Poisson purchases with rate ~ Gamma(r, alpha) per week, no dropout",
            "r": r,
            "alpha_weeks": alpha,
            "mean_rate_per_week": r / alpha,
            "dropout_probability": 0.0,
            "history_days": RETAIL["history_days"],
            "guest_line_share": RETAIL["guest_line_share"],
            "cancellation_share": RETAIL["cancellation_share"],
            "zero_value_order_share": RETAIL["zero_value_order_share"],
            "zero_price_line_share": RETAIL["zero_price_line_share"],
            "discount_line_share": RETAIL["discount_line_share"],
            "wholesale_customer_share": RETAIL["wholesale_customer_share"],
            "wholesale_large_share": RETAIL["wholesale_large_share"],
            "wholesale_total_range": [RETAIL["wholesale_total_min"], RETAIL["wholesale_total_max"]],
            "line_amount_limit": LINE_AMOUNT_LIMIT_MILLI / 1000,
            "invoice_write_max_seconds": RETAIL["invoice_write_max_s"],
        },
        "realized": realized,
        "notes": dict(NOTES),
    }
