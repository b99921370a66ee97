"""Test helper: canonical (post-ingest) tables built from short tuples, for inline known-answer tests."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["contract_transactions", "purchase_transactions", "simulated_orders"]

_FIELDS = ["order_id", "customer_id", "order_ts", "amount", "gross_amount", "refund_amount", "kind"]


def contract_transactions(rows: list[tuple]) -> pd.DataFrame:
    """The ingest contract's ``transactions`` from tuples.

    One tuple per row: ``(order_id, customer_id, order_ts, amount, gross_amount, refund_amount,
    kind)`` with an optional eighth field ``category``; ``kind`` is ``"purchase"``,
    ``"cancelled"`` (not a purchase) or ``"return"`` (an unmatched refund). Quantity is 1, the
    order channel "web", every customer known, and ``source_row`` counts from 0.
    """
    with_category = bool(rows) and len(rows[0]) == len(_FIELDS) + 1
    frame = pd.DataFrame(rows, columns=_FIELDS + (["category"] if with_category else []))
    category = (
        frame["category"].astype("str")
        if with_category
        else pd.Series(None, index=frame.index, dtype="str")
    )
    return pd.DataFrame(
        {
            "order_id": frame["order_id"].astype("str"),
            "customer_id": frame["customer_id"].astype("str"),
            "order_ts": pd.to_datetime(frame["order_ts"], format="ISO8601").astype(
                "datetime64[us]"
            ),
            "amount": frame["amount"].astype("float64"),
            "gross_amount": frame["gross_amount"].astype("float64"),
            "refund_amount": frame["refund_amount"].astype("float64"),
            "quantity": pd.array([1] * len(frame), dtype="Int64"),
            "category": category,
            "channel": pd.array(["web"] * len(frame), dtype="str"),
            "is_purchase": (frame["kind"] == "purchase").to_numpy(),
            "is_return": (frame["kind"] == "return").to_numpy(),
            "customer_known": pd.array([True] * len(frame), dtype="boolean"),
            "source_row": np.arange(len(frame), dtype="int64"),
        }
    )


def purchase_transactions(rows: list[tuple[str, str, str, float, bool]]) -> pd.DataFrame:
    """Only the columns activity needs, from ``(order_id, customer_id, order_ts, amount, is_purchase)``.

    ``is_return`` is derived: a negative amount is an unmatched refund.
    """
    frame = pd.DataFrame(
        rows, columns=["order_id", "customer_id", "order_ts", "amount", "is_purchase"]
    )
    frame["order_ts"] = pd.to_datetime(frame["order_ts"]).astype("datetime64[us]")
    frame["is_return"] = frame["amount"] < 0
    return frame


def simulated_orders(
    days: np.ndarray, keep: np.ndarray, rng: np.random.Generator, *, id_digits: int
) -> pd.DataFrame:
    """Purchases simulated as a (customer x order) matrix of days since 2023-01-01: one row
    per kept cell, the day floored, a Gamma(3, 15) amount from ``rng`` (drawn last), customer
    ids ``C`` + ``id_digits`` digits."""
    customer, order = np.nonzero(keep)
    return pd.DataFrame({
        "order_id": [f"O{c}-{o}" for c, o in zip(customer, order, strict=True)],
        "customer_id": pd.Series([f"C{c:0{id_digits}d}" for c in customer], dtype="str"),
        "order_ts": (pd.Timestamp("2023-01-01") + pd.to_timedelta(days[keep], unit="D"))
        .floor("D").astype("datetime64[us]"),
        "amount": np.round(rng.gamma(3.0, 15.0, int(keep.sum())), 2),
        "is_purchase": True,
        "is_return": False,
    })  # fmt: skip
