"""Survey responses of the synthetic CRM: NPS and CSAT, tied to each customer's loyalty."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from crmlib.synth._common import Window, categorical, format_ids, str_series
from crmlib.synth._constants import (
    CHANNEL_PARAMS,
    CSAT_P,
    CSAT_RESPONSE,
    DAY_S,
    NPS_P,
    NPS_RESPONSE,
    NPS_SCORE_P,
    SATISFACTION_RHO,
    SURVEY_STREAM,
)
from crmlib.synth._customers import CustomerDraws

__all__ = ["NPS_CATEGORIES", "SURVEY_TYPES", "draw_surveys", "survey_truth"]

SURVEY_TYPES = ["nps", "csat"]
NPS_CATEGORIES = ["promoter", "passive", "detractor"]


def _loyalty_score(customers: CustomerDraws, p_drop: np.ndarray) -> np.ndarray:
    """s = Phi^-1(1 - BetaCDF(p; a, b)) per customer: standard normal within each channel."""
    channels = list(CHANNEL_PARAMS)
    a = np.array([CHANNEL_PARAMS[c]["a"] for c in channels])[customers.chan]
    b = np.array([CHANNEL_PARAMS[c]["b"] for c in channels])[customers.chan]
    u = np.clip(special.betainc(a, b, np.asarray(p_drop, dtype=float)), 1e-12, 1 - 1e-12)
    return np.asarray(special.ndtri(1.0 - u), dtype=float)


def _cut(z: np.ndarray, cumulative: np.ndarray) -> np.ndarray:
    """Index of the band of each z, bands at Phi^-1 of the cumulative probabilities (rows)."""
    bounds = special.ndtri(np.clip(cumulative, 0.0, 1.0))
    return (z[:, None] > bounds).sum(axis=1).astype(np.int64)


def _response_times(
    rng: np.random.Generator,
    signup_s: np.ndarray,
    *,
    share: float,
    min_days: float,
    max_days: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Who answers (a Bernoulli draw per customer) and when (uniform in [min, max] days)."""
    answers = rng.random(signup_s.size) < share
    delay = (min_days + rng.random(signup_s.size) * (max_days - min_days)) * DAY_S
    return answers, signup_s + delay.astype(np.int64)


def draw_surveys(
    seed: int, customers: CustomerDraws, *, p_drop: np.ndarray, window: Window
) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """The survey responses, one row per answer, sorted by ``response_ts``.

    Draws from its own stream ``np.random.default_rng([seed, SURVEY_STREAM])`` (every draw
    has one value per customer, in a fixed order), so the other tables do not depend on it.
    A customer's satisfaction is a Gaussian copula on its planted dropout probability (see
    :data:`crmlib.synth._constants.SATISFACTION_RHO`): per channel the NPS categories and
    CSAT scores have exactly the planted probabilities :data:`NPS_P` and :data:`CSAT_P`,
    and more satisfied customers drop out less.

    Returns *customer_id, response_ts, survey, score* (one row per answer) and, for the
    truth, the per-customer ``nps_category`` (index into :data:`NPS_CATEGORIES`),
    ``csat_score``, who answered (``nps_answered``, ``csat_answered``) and when
    (``nps_s``, ``csat_s``, seconds since the window start).
    """
    rng = np.random.default_rng([seed, SURVEY_STREAM])
    n = customers.n
    channels = list(CHANNEL_PARAMS)
    s = _loyalty_score(customers, p_drop)
    z_nps = SATISFACTION_RHO["nps"] * s + np.sqrt(1 - SATISFACTION_RHO["nps"] ** 2) * (
        rng.standard_normal(n)
    )
    z_csat = SATISFACTION_RHO["csat"] * s + np.sqrt(1 - SATISFACTION_RHO["csat"] ** 2) * (
        rng.standard_normal(n)
    )
    # NPS: detractor below Phi^-1(D), promoter above Phi^-1(1 - P); CSAT 1..5 by its quantiles
    nps_p = np.array([NPS_P[c] for c in channels])[customers.chan]  # (P, passive, D)
    band = _cut(z_nps, np.column_stack([nps_p[:, 2], 1.0 - nps_p[:, 0]]))
    category = 2 - band  # band 0 = detractor (2), 1 = passive (1), 2 = promoter (0)
    csat_p = np.array([CSAT_P[c] for c in channels])[customers.chan]
    csat_score = 1 + _cut(z_csat, np.cumsum(csat_p, axis=1)[:, :-1])
    # the score within the NPS category
    u_score = rng.random(n)
    nps_score = np.zeros(n, dtype=np.int64)
    for code, name in enumerate(NPS_CATEGORIES):
        scores = np.array(list(NPS_SCORE_P[name]))
        cdf = np.cumsum(list(NPS_SCORE_P[name].values()))
        pick = np.minimum(np.searchsorted(cdf / cdf[-1], u_score, side="right"), scores.size - 1)
        nps_score = np.where(category == code, scores[pick], nps_score)
    nps_answered, nps_s = _response_times(rng, customers.signup_s, **NPS_RESPONSE)
    csat_answered, csat_s = _response_times(rng, customers.signup_s, **CSAT_RESPONSE)
    nps_answered &= nps_s <= window.t_last
    csat_answered &= csat_s <= window.t_last

    who = np.concatenate([np.flatnonzero(nps_answered), np.flatnonzero(csat_answered)])
    when = np.concatenate([nps_s[nps_answered], csat_s[csat_answered]])
    kind = np.repeat([0, 1], [int(nps_answered.sum()), int(csat_answered.sum())])
    score = np.concatenate([nps_score[nps_answered], csat_score[csat_answered]])
    order = np.lexsort((kind, who, when))
    table = pd.DataFrame(
        {
            "customer_id": str_series(format_ids("C", who[order] + 1, 7)),
            "response_ts": window.start_ts + when[order].astype("timedelta64[s]"),
            "survey": categorical(kind[order], SURVEY_TYPES),
            "score": score[order].astype(np.int64),
        }
    )
    latent = {
        "nps_category": category,
        "csat_score": csat_score,
        "nps_answered": nps_answered,
        "csat_answered": csat_answered,
        "nps_s": nps_s,
        "csat_s": csat_s,
    }
    return table, latent


def _repeat_within(
    order_cust: np.ndarray, order_s: np.ndarray, who: np.ndarray, after_s: np.ndarray, days: int
) -> np.ndarray:
    """Per (customer, time): whether the customer ordered within ``days`` after the time."""
    scale = np.int64(10**10)  # above any second of a window (int64 keys up to 9e8 customers)
    key = np.sort(order_cust.astype(np.int64) * scale + order_s.astype(np.int64))
    start = who.astype(np.int64) * scale + after_s.astype(np.int64)
    first = np.searchsorted(key, start, side="right")
    last = np.searchsorted(key, start + days * DAY_S, side="right")
    return last > first


def survey_truth(
    latent: dict[str, np.ndarray],
    customers: CustomerDraws,
    *,
    p_drop: np.ndarray,
    transactions: pd.DataFrame,
    window: Window,
) -> dict[str, Any]:
    """The ``surveys`` section of the truth: what is planted and what the draw realized.

    ``transactions`` (the clean rows, ids ``C`` + number) gives the observable link: the
    share of NPS respondents of each category who order again within 365 days of answering
    (respondents answering at least 365 days before the window's end).
    """
    channels = list(CHANNEL_PARAMS)
    category = latent["nps_category"]
    answered = latent["nps_answered"]
    nps_realized: dict[str, Any] = {}
    for code, channel in enumerate(channels):
        mask = answered & (customers.chan == code)
        k = int(mask.sum())
        shares = [float((category[mask] == c).mean()) for c in range(3)] if k else []
        nps_realized[channel] = {
            "n": k,
            "nps": round(100 * (shares[0] - shares[2]), 4) if k else None,
        }
    csat_realized: dict[str, Any] = {}
    for code, channel in enumerate(channels):
        scores = latent["csat_score"][latent["csat_answered"] & (customers.chan == code)]
        csat_realized[channel] = {
            "n": int(scores.size),
            "mean": round(float(scores.mean()), 4) if scores.size else None,
        }
    positive = transactions["amount"].to_numpy() > 0
    order_cust = (
        transactions.loc[positive, "customer_id"].str.slice(1).astype(np.int64).to_numpy() - 1
    )
    order_s = (
        (transactions.loc[positive, "order_ts"].to_numpy() - window.start_ts)
        .astype("timedelta64[s]")
        .astype(np.int64)
    )
    early = answered & (latent["nps_s"] <= window.t_last - 365 * DAY_S)
    who = np.flatnonzero(early)
    repeat = _repeat_within(order_cust, order_s, who, latent["nps_s"][early], 365)
    by_category: dict[str, Any] = {}
    for code, name in enumerate(NPS_CATEGORIES):
        mask = answered & (category == code)
        in_early = category[early] == code
        by_category[name] = {
            "n": int(mask.sum()),
            "mean_p_dropout": round(float(np.mean(p_drop[mask])), 6) if mask.any() else None,
            "n_answered_365d_before_end": int(in_early.sum()),
            "repeat_within_365d_of_answer": round(float(repeat[in_early].mean()), 4)
            if in_early.any()
            else None,
        }
    return {
        "random_stream": f"np.random.default_rng([seed, {SURVEY_STREAM}])",
        "nps_response": dict(NPS_RESPONSE),
        "csat_response": dict(CSAT_RESPONSE),
        "satisfaction_rho": dict(SATISFACTION_RHO),
        "satisfaction_model": "s = Phi^-1(1 - BetaCDF(p_dropout; a, b)) within the channel; z = rho s + sqrt(1 - rho^2) e; NPS detractor when z < Phi^-1(D), promoter when z > Phi^-1(1 - P); CSAT k when z falls in the k-th band of the channel's CSAT quantiles",
        "nps_p": {c: dict(zip(NPS_CATEGORIES, NPS_P[c], strict=True)) for c in channels},
        "nps_planted": {c: round(100 * (NPS_P[c][0] - NPS_P[c][2]), 4) for c in channels},
        "nps_score_p": {k: {str(s): p for s, p in v.items()} for k, v in NPS_SCORE_P.items()},
        "csat_p": {c: {str(k + 1): p for k, p in enumerate(CSAT_P[c])} for c in channels},
        "csat_mean_planted": {
            c: round(sum((k + 1) * p for k, p in enumerate(CSAT_P[c])), 4) for c in channels
        },
        "realized": {
            "n_nps": int(answered.sum()),
            "n_csat": int(latent["csat_answered"].sum()),
            "nps_by_channel": nps_realized,
            "csat_by_channel": csat_realized,
            "by_nps_category": by_category,
        },
    }
