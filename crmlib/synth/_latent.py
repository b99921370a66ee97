"""Latent per-customer truth: the drawn BG/NBD and Gamma-Gamma parameters and dropout times."""

from __future__ import annotations

import numpy as np
import pandas as pd

from crmlib.synth._common import Window, categorical, format_ids, str_series
from crmlib.synth._constants import CHANNEL_PARAMS
from crmlib.synth._customers import CustomerDraws

__all__ = ["latent_table"]


def latent_table(
    customers: CustomerDraws,
    *,
    lam: np.ndarray,
    p_drop: np.ndarray,
    death_s: np.ndarray,
    nu: np.ndarray,
    window: Window,
) -> pd.DataFrame:
    """The planted latent truth, one row per customer in the order of ``customers``.

    Records values drawn for the tables (it draws nothing): *customer_id,
    acquisition_channel, lambda_per_day* (BG/NBD purchase rate, before the Q4 multiplier),
    *p_dropout* (dropout probability after each repeat purchase), *dropout_ts* (the repeat
    purchase after which the customer dropped out; NaT while alive), *alive_at_end* and
    *spend_nu* (Gamma-Gamma rate: order values ~ Gamma(spend_p, spend_nu), mean
    ``spend_p / spend_nu``). ``death_s`` is in seconds since the window start, ``int64``
    max for customers still alive.
    """
    n = customers.n
    alive = death_s > window.t_last
    dropout_ts = np.full(n, np.datetime64("NaT"), dtype="datetime64[s]")
    dropout_ts[~alive] = window.start_ts + death_s[~alive].astype("timedelta64[s]")
    return pd.DataFrame(
        {
            "customer_id": str_series(format_ids("C", np.arange(1, n + 1), 7)),
            "acquisition_channel": categorical(customers.chan, list(CHANNEL_PARAMS)),
            "lambda_per_day": np.asarray(lam, dtype=float),
            "p_dropout": np.asarray(p_drop, dtype=float),
            "dropout_ts": dropout_ts,
            "alive_at_end": alive,
            "spend_nu": np.asarray(nu, dtype=float),
        }
    )
