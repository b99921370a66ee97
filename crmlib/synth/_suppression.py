"""The global suppression list: a random share of the customers plus a few stale ids."""

from __future__ import annotations

import numpy as np
import pandas as pd

from crmlib.synth._common import Window, categorical, format_ids, pick, str_series
from crmlib.synth._constants import (
    SUPPRESSION_REASON_P,
    SUPPRESSION_REASONS,
    SUPPRESSION_SHARE,
    SUPPRESSION_STREAM,
    SUPPRESSION_UNKNOWN_IDS,
)
from crmlib.synth._customers import CustomerDraws

__all__ = ["STALE_ID_BASE", "draw_suppression"]

STALE_ID_BASE = 9_999_000  # stale ids are C9999001, C9999002, ... (above 2 * n for big CRMs)


def draw_suppression(seed: int, customers: CustomerDraws, *, window: Window) -> pd.DataFrame:
    """The do-not-contact list, one row per suppressed id, sorted by ``added_ts``.

    Draws from its own stream ``np.random.default_rng([seed, SUPPRESSION_STREAM])``, so the
    other tables are the same with or without it. ``round(SUPPRESSION_SHARE * n)`` customers
    are chosen uniformly at random and added at a uniform time between their signup and the
    end of the window; ``SUPPRESSION_UNKNOWN_IDS`` stale ids that are not in ``customers``
    (``C9999001``, ... or from ``2 * n + 1`` for larger CRMs) are added at a uniform time in
    the window. Reasons are drawn with ``SUPPRESSION_REASON_P``. Independent of the events:
    sends to a suppressed customer may exist before and after ``added_ts``.

    Returns *customer_id, added_ts, reason* (one row per suppressed id).
    """
    rng = np.random.default_rng([seed, SUPPRESSION_STREAM])
    n, t_last = customers.n, window.t_last
    n_known = round(SUPPRESSION_SHARE * n)
    known = np.sort(rng.choice(n, size=n_known, replace=False))
    signup_s = customers.signup_s[known]
    known_s = signup_s + (rng.random(n_known) * (t_last - signup_s)).astype(np.int64)
    stale_no = max(STALE_ID_BASE, 2 * n) + 1 + np.arange(SUPPRESSION_UNKNOWN_IDS)
    stale_s = (rng.random(SUPPRESSION_UNKNOWN_IDS) * t_last).astype(np.int64)
    numbers = np.concatenate([known + 1, stale_no]).astype(np.int64)
    added_s = np.concatenate([known_s, stale_s])
    reason = pick(rng, SUPPRESSION_REASON_P, numbers.size)
    order = np.lexsort((numbers, added_s))
    return pd.DataFrame(
        {
            "customer_id": str_series(format_ids("C", numbers[order], 7)),
            "added_ts": window.start_ts + added_s[order].astype("timedelta64[s]"),
            "reason": categorical(reason[order], SUPPRESSION_REASONS),
        }
    )
