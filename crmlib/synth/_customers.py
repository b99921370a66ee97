"""Customers of the synthetic CRM: signup times, channels, regions, consent and loyalty tiers."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from crmlib.synth._common import Window, categorical, format_ids, pick, str_series
from crmlib.synth._constants import (
    CHANNEL_PARAMS,
    CLUSTER_CUSTOMERS,
    DAY_S,
    LOYALTY_TIERS,
    MSG_PARAMS,
    ORDER_CHANNEL_P,
    PLANTED_PAIRS,
    REGION_P,
    REGIONS,
    SIGNUP_GROWTH,
)

__all__ = ["CustomerDraws", "channel_arrays", "customer_table", "draw_customers", "loyalty_tiers"]


@dataclass(frozen=True)
class CustomerDraws:
    """Per-customer attributes; element ``i`` is the customer ``C{i + 1}`` (signup order)."""

    signup_s: np.ndarray  # signup second since the window start, sorted
    chan: np.ndarray  # acquisition channel code, an index into CHANNEL_PARAMS
    region: np.ndarray  # index into REGIONS
    pref_order_channel: np.ndarray  # index into ORDER_CHANNELS
    cluster: np.ndarray  # index into PLANTED_PAIRS, -1 for customers without a preferred pair
    birth_year: np.ndarray
    birth_missing: np.ndarray
    opt: dict[str, np.ndarray]  # consent per messaging channel

    @property
    def n(self) -> int:
        """Number of customers."""
        return int(self.signup_s.size)


def channel_arrays() -> dict[str, np.ndarray]:
    """Each parameter of :data:`CHANNEL_PARAMS` as an array indexed by channel code."""
    channel_names = list(CHANNEL_PARAMS)
    return {
        k: np.array([CHANNEL_PARAMS[c][k] for c in channel_names])
        for k in CHANNEL_PARAMS["email_referral"]
    }


def draw_customers(
    rng: np.random.Generator, n: int, *, window: Window, par: dict[str, np.ndarray]
) -> CustomerDraws:
    """Signup over the window with linearly growing density (sorted by time), then attributes."""
    t_last = window.t_last
    g = SIGNUP_GROWTH
    u = np.sort(rng.random(n))
    x = (np.sqrt(1.0 + 2.0 * g * u * (1.0 + g / 2.0)) - 1.0) / g
    signup_s = np.minimum((x * window.n_days * DAY_S).astype(np.int64), t_last - 3 * 3600)
    chan = pick(rng, par["share"], n)
    region = pick(rng, REGION_P, n)
    pref_order_channel = pick(rng, ORDER_CHANNEL_P, n)
    cluster = np.where(
        rng.random(n) < CLUSTER_CUSTOMERS, rng.integers(0, len(PLANTED_PAIRS), n), -1
    )
    birth_year = np.clip(np.round(rng.normal(1984, 13, n)), 1935, 2007).astype(np.int64)
    birth_missing = rng.random(n) < 0.08
    opt = {m: rng.random(n) < MSG_PARAMS[m]["opt_in"] for m in ("email", "sms")}
    opt["push"] = rng.random(n) < np.where(pref_order_channel == 1, 0.65, 0.18)
    return CustomerDraws(
        signup_s=signup_s,
        chan=chan,
        region=region,
        pref_order_channel=pref_order_channel,
        cluster=cluster,
        birth_year=birth_year,
        birth_missing=birth_missing,
        opt=opt,
    )


def loyalty_tiers(
    order_ts: np.ndarray, order_cust: np.ndarray, *, n: int, t_last: int
) -> np.ndarray:
    """Loyalty tier code per customer from its orders in the last 365 days of the window."""
    recent = np.bincount(order_cust[order_ts > t_last - 365 * DAY_S], minlength=n)
    return np.where(recent >= 15, 2, np.where(recent >= 5, 1, 0))


def customer_table(
    customers: CustomerDraws, *, tier: np.ndarray, start_ts: np.datetime64
) -> pd.DataFrame:
    """The ``customers`` contract table, one row per customer in signup order."""
    n = customers.n
    opt = customers.opt
    return pd.DataFrame(
        {
            "customer_id": str_series(format_ids("C", np.arange(1, n + 1), 7)),
            "signup_ts": start_ts + customers.signup_s.astype("timedelta64[s]"),
            "acquisition_channel": categorical(customers.chan, list(CHANNEL_PARAMS)),
            "region": categorical(customers.region, REGIONS),
            "birth_year": pd.arrays.IntegerArray(customers.birth_year, customers.birth_missing),
            "email_opt_in": opt["email"],
            "sms_opt_in": opt["sms"],
            "push_opt_in": opt["push"],
            "loyalty_tier": categorical(tier, LOYALTY_TIERS),
        }
    )
