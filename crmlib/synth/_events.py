"""Messaging events of the synthetic CRM: monthly campaigns per channel, engagement-driven."""

from __future__ import annotations

import numpy as np
import pandas as pd

from crmlib.synth._common import Window, categorical, format_ids, str_series
from crmlib.synth._constants import (
    DAY_S,
    DEAD_ENGAGEMENT,
    EVENT_TYPES,
    MSG_CHANNELS,
    MSG_PARAMS,
)
from crmlib.synth._customers import CustomerDraws

__all__ = ["draw_events"]


def draw_events(
    rng: np.random.Generator,
    customers: CustomerDraws,
    *,
    death_s: np.ndarray,
    window: Window,
    order_ts: np.ndarray,
    order_cust: np.ndarray,
) -> tuple[pd.DataFrame, list[str]]:
    """Monthly campaigns per messaging channel over the last 12 months of the window.

    Returns the ``events`` contract table (one row per event) and the campaign ids.
    Sends go to a random audience among consenting, signed-up, not-unsubscribed customers.
    Open and click rates are scaled by an engagement factor: ``DEAD_ENGAGEMENT`` for customers
    who have already dropped out (else 1), times ``0.4 + 0.6 * exp(-days since last order / 90)``;
    unsubscribe rates are divided by it. ``order_ts`` must be sorted.
    """
    n = customers.n
    signup_s, opt = customers.signup_s, customers.opt
    start_ts, end_excl, t_last = window.start_ts, window.end_excl, window.t_last
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
    return _event_table(cols, campaigns, start_ts=start_ts, t_last=t_last), campaigns


def _event_table(
    cols: dict[str, list[np.ndarray]],
    campaigns: list[str],
    *,
    start_ts: np.datetime64,
    t_last: int,
) -> pd.DataFrame:
    """The ``events`` contract table from the event columns, sorted by time, up to ``t_last``."""
    arrays = {k: np.concatenate(v) if v else np.array([], dtype=np.int64) for k, v in cols.items()}
    keep = arrays["ts"] <= t_last
    order = np.argsort(arrays["ts"][keep], kind="stable")
    arrays = {k: v[keep][order] for k, v in arrays.items()}
    return pd.DataFrame(
        {
            "customer_id": str_series(format_ids("C", arrays["cust"].astype(np.int64) + 1, 7)),
            "event_ts": start_ts + arrays["ts"].astype("timedelta64[s]"),
            "channel": categorical(arrays["channel"], MSG_CHANNELS),
            "event_type": categorical(arrays["type"], EVENT_TYPES),
            "campaign_id": categorical(arrays["campaign"], campaigns),
        }
    )
