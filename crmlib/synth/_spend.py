"""Marketing spend of the synthetic CRM: daily spend per channel and campaign, from a planted CAC."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from crmlib.synth._common import Window
from crmlib.synth._constants import (
    CAC,
    CHANNEL_PARAMS,
    DAY_S,
    SPEND_CAMPAIGNS,
    SPEND_DAILY_SHAPE,
    SPEND_NOISE_SD,
    SPEND_STREAM,
)
from crmlib.synth._customers import CustomerDraws

__all__ = ["draw_marketing_spend", "spend_truth"]


def draw_marketing_spend(
    seed: int, customers: CustomerDraws, *, window: Window
) -> tuple[pd.DataFrame, np.ndarray]:
    """Daily spend per acquisition channel and campaign, one row per day, channel and campaign.

    Draws from its own stream ``np.random.default_rng([seed, SPEND_STREAM])``, so the other
    tables do not depend on it. A channel's spend in a calendar month of the window is
    ``CAC[channel]`` x the customers who signed up through it that month x ``(1 + e)``, e ~
    Normal(0, ``SPEND_NOISE_SD``) floored at -0.9 (one draw per channel and month), spread
    over the month's days (inside the window) with Dirichlet(``SPEND_DAILY_SHAPE``) weights
    and split over the channel's campaigns by the fixed shares of ``SPEND_CAMPAIGNS``;
    rounded to cents. Every day has a row per channel and campaign (0.00 on a month without
    new customers of the channel).

    Returns *date* (``datetime.date``), *acquisition_channel*, *spend*, *campaign* (None for
    a channel without campaigns), sorted by date, channel, campaign; and the monthly noise
    factors ``1 + e`` (channels x months) for the truth.
    """
    rng = np.random.default_rng([seed, SPEND_STREAM])
    channels = list(CHANNEL_PARAMS)
    days = np.datetime64(window.start, "D") + np.arange(window.n_days)
    month_of_day = days.astype("datetime64[M]")
    months = np.unique(month_of_day)
    day_month = np.searchsorted(months, month_of_day)
    signup_day = np.datetime64(window.start, "D") + customers.signup_s // DAY_S
    signup_month = np.searchsorted(months, signup_day.astype("datetime64[M]"))
    new = np.zeros((len(channels), months.size))
    np.add.at(new, (customers.chan.astype(np.int64), signup_month), 1.0)
    factor = np.maximum(1.0 + rng.normal(0.0, SPEND_NOISE_SD, new.shape), 0.1)
    weights = rng.gamma(SPEND_DAILY_SHAPE, 1.0, (len(channels), days.size))
    month_sums = np.zeros((len(channels), months.size))
    for code in range(len(channels)):
        month_sums[code] = np.bincount(day_month, weights=weights[code], minlength=months.size)
    cac = np.array([CAC[c] for c in channels])
    monthly = cac[:, None] * new * factor
    daily = monthly[:, day_month] * weights / month_sums[:, day_month]
    frames = []
    for code, channel in enumerate(channels):
        for campaign, share in SPEND_CAMPAIGNS[channel].items():
            frames.append(
                pd.DataFrame(
                    {
                        "date": days.astype(object),
                        "acquisition_channel": channel,
                        "spend": np.round(daily[code] * share, 2),
                        "campaign": campaign,
                    }
                )
            )
    table = pd.concat(frames, ignore_index=True)
    order = np.lexsort(
        (table["campaign"].fillna("").to_numpy(), table["acquisition_channel"].to_numpy(),
         np.tile(np.arange(days.size), len(frames)))
    )  # fmt: skip
    table = table.iloc[order].reset_index(drop=True)
    table["acquisition_channel"] = pd.Categorical(table["acquisition_channel"], categories=channels)
    table["campaign"] = table["campaign"].astype("str")
    return table, factor


def spend_truth(
    spend: pd.DataFrame, customers: CustomerDraws, *, factor: np.ndarray
) -> dict[str, Any]:
    """The ``marketing_spend`` section of the truth: planted CAC, noise and realized CAC."""
    channels = list(CHANNEL_PARAMS)
    new = np.bincount(customers.chan.astype(np.int64), minlength=len(channels))
    total = spend.groupby("acquisition_channel", observed=False)["spend"].sum()
    realized = {}
    for code, channel in enumerate(channels):
        amount = round(float(total.get(channel, 0.0)), 2)
        realized[channel] = {
            "spend": amount,
            "new_customers": int(new[code]),
            "cac": round(amount / new[code], 6) if new[code] else None,
        }
    return {
        "random_stream": f"np.random.default_rng([seed, {SPEND_STREAM}])",
        "cac_planted": dict(CAC),
        "model": "spend(channel, month) = CAC x signups through the channel that month x (1 + e), e ~ Normal(0, noise_sd) floored at -0.9, one e per channel and month; spread over the month's days with Dirichlet(daily_shape) weights, split over campaigns by fixed shares, rounded to cents",
        "noise_sd": SPEND_NOISE_SD,
        "daily_shape": SPEND_DAILY_SHAPE,
        "campaigns": {
            c: {("" if k is None else k): v for k, v in SPEND_CAMPAIGNS[c].items()}
            for c in channels
        },
        "noise_factor_mean": {
            c: round(float(factor[code].mean()), 6) for code, c in enumerate(channels)
        },
        "realized": {"n_rows": int(len(spend)), "by_channel": realized},
    }
