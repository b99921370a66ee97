"""Injected dirty transaction rows: one defect each, written between the valid rows."""

from __future__ import annotations

import numpy as np
import pandas as pd

from crmlib.synth._common import format_ids
from crmlib.synth._constants import DAY_S, DIRTY_REASONS, TX_COLUMNS

__all__ = ["inject_dirty_rows"]


def _format_ts(values: pd.Series) -> pd.Series:
    """Timestamps as ``YYYY-MM-DD HH:MM:SS`` text."""
    return values.dt.strftime("%Y-%m-%d %H:%M:%S")


def inject_dirty_rows(
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

    One row of the result is one injected row: the contract columns as text, its ``reason``
    and its ``position``, the index of the clean row of ``transactions`` it is written
    before (``len(transactions)``: after the last one). Positions are uniform over the file,
    except that a ``duplicate_row`` or ``conflicting_order`` row always comes **after** the
    clean row it copies (its position is uniform over the rows after it), so ingest, which
    keeps the first row of an order id, keeps the genuine order and rejects the copy.
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
    text.loc[fresh, "order_id"] = format_ids("O", new_no, 8).to_pylist()

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
    text.loc[conflict, "customer_id"] = np.where(switch, format_ids("C", other, 7).to_numpy(zero_copy_only=False),
                                                 text.loc[conflict, "customer_id"].to_numpy())  # fmt: skip
    big = np.round(250_000 + rng.uniform(0, 750_000, per), 2)
    text.loc[where("amount_out_of_bounds"), "amount"] = [f"{x:.2f}" for x in big]
    text.loc[where("unknown_customer"), "customer_id"] = format_ids(
        "C", n_customers + 1 + np.arange(per), 7
    ).to_pylist()
    # copies go after their original: low = its index + 1 (one draw per row, as for the others)
    copies = ~fresh
    low = np.where(copies, template_idx + 1, 0)
    text["position"] = rng.integers(low, len(transactions) + 1)
    text = text.sort_values(["position", "reason"], kind="stable").reset_index(drop=True)
    return text, counts
