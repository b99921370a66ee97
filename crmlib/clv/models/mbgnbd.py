"""MBG/NBD: likelihood and closed forms, vectorised over histories (lifetimes' formulas).

The likelihood is the BG/NBD family's (:func:`crmlib.clv.models.bgnbd.bg_family`) with the
``+1`` moved into the beta terms.

References
----------
.. [1] Batislam, E. P., Denizel, M. and Filiztekin, A. (2007). "Empirical validation and
   comparison of models for customer base analysis." IJRM 24(3), 201-209.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import betaln, gammaln, hyp2f1

from crmlib.clv.models.base import Array, Kernel, PatternData, Theta
from crmlib.clv.models.bgnbd import bg_family, hyp_tail
from crmlib.clv.models.nbd import nb_log_pmf

__all__ = [
    "mbgnbd_objective",
    "mbg_alive_expected",
    "mbg_p_alive",
    "mbg_pmf",
    "mbg_expected",
    "mbg_log_likelihood",
    "KERNEL",
]


# -- likelihood: mean negative log-likelihood per customer and its gradient ----------------
def mbgnbd_objective(log_params: Array, data: PatternData, penalizer: float) -> tuple[float, Array]:
    return bg_family(log_params, data, penalizer, modified=True)


# -- closed forms --------------------------------------------------------------------------
def mbg_alive_expected(theta: Theta, t: Any, x: Any, T: Any) -> np.ndarray:
    """MBG/NBD E[Y(t) | alive at T, x, T] (lifetimes' numerator, [2]).

    Where 2F1 overflows (heavy buyers), Euler's transformation in logs, as for BG/NBD.
    """
    r, alpha, a, b = theta
    tail = hyp_tail(r, alpha, t, x, T, b + x + 1, a + b + x)
    return np.asarray((a + b + x) / (a - 1) * (1 - tail))


def mbg_p_alive(theta: Theta, x: Any, t_x: Any, T: Any) -> np.ndarray:
    r, alpha, a, b = theta
    return np.asarray(1.0 / (1 + (a / (b + x)) * ((alpha + T) / (alpha + t_x)) ** (r + x)))


def mbg_pmf(theta: Theta, t: np.ndarray, max_n: int) -> np.ndarray:
    """MBG/NBD P(X(t) = n), n = 0..max_n (lifetimes' formula, [2])."""
    r, alpha, a, b = theta
    n = np.arange(max_n + 1)
    nb = np.exp(nb_log_pmf(r, alpha, t[:, None], n[None, :]))
    below = np.concatenate([np.zeros((len(t), 1)), np.cumsum(nb, axis=1)[:, :-1]], axis=1)
    first = np.exp(betaln(a, b + n + 1) - betaln(a, b)) * nb
    return np.asarray(first + np.exp(betaln(a + 1, b + n) - betaln(a, b)) * (1 - below))


def mbg_expected(theta: Theta, t: Any) -> np.ndarray:
    r, alpha, a, b = theta
    hyp = hyp2f1(r, b + 1, a + b, t / (alpha + t))
    return np.asarray(b / (a - 1) * (1 - hyp * (alpha / (alpha + t)) ** r))


def mbg_log_likelihood(theta: Theta, x: Any, t_x: Any, T: Any) -> np.ndarray:
    r, alpha, a, b = theta
    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    a2 = betaln(a, b + x + 1) - betaln(a, b)
    a3 = -(r + x) * np.log(alpha + T)
    a4 = np.log(a) - np.log(b + x) + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x))
    return np.asarray(a1 + a2 + a3 + np.logaddexp(a4, 0))


#: The MBG/NBD's closed forms.
KERNEL = Kernel(mbg_alive_expected, mbg_p_alive, mbg_pmf, mbg_expected, mbg_log_likelihood)
