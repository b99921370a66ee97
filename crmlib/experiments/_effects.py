"""Vectorized effect estimators for A/B tests, plus SRM, power, sample size and guardrails.

Every estimator works on summary statistics held in numpy arrays of any (broadcastable) shape,
so one call can analyse thousands of simulated experiments at once; :func:`analyze_experiment`
calls the same functions with scalars.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats

__all__ = [
    "EffectEstimate",
    "arm_moments",
    "proportion_effect",
    "welch_effect",
    "ratio_effect",
    "cuped_theta",
    "srm_test",
    "power_and_mde",
    "sample_size",
    "non_inferiority",
    "guardrail_status",
]

log = logging.getLogger(__name__)

SRM_ALPHA = 0.001

FloatArray = NDArray[np.float64]


class EffectEstimate(NamedTuple):
    """Treatment-vs-control estimates, each an array (or 0-d array) of the input's shape."""

    mean: FloatArray
    control_mean: FloatArray
    abs_diff: FloatArray
    abs_ci_low: FloatArray
    abs_ci_high: FloatArray
    rel_lift: FloatArray
    rel_ci_low: FloatArray
    rel_ci_high: FloatArray
    p_value: FloatArray
    se: FloatArray


def _f(values: ArrayLike) -> FloatArray:
    return np.asarray(values, dtype=np.float64)


def arm_moments(values: ArrayLike, *, axis: int = -1) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Return ``(n, mean, var)`` of ``values`` along ``axis``; ``var`` uses ``ddof=1``.

    Examples
    --------
    >>> n, mean, var = arm_moments([[1.0, 2.0, 3.0], [0.0, 0.0, 3.0]])
    >>> n.tolist(), mean.tolist(), var.tolist()
    ([3.0, 3.0], [2.0, 1.0], [1.0, 3.0])
    """
    array = _f(values)
    n = np.full(np.delete(array.shape, axis % array.ndim), array.shape[axis], dtype=np.float64)
    mean = array.mean(axis=axis)
    var = array.var(axis=axis, ddof=1) if array.shape[axis] > 1 else np.full_like(mean, np.nan)
    return n, mean, var


def _relative(
    mean_t: FloatArray,
    mean_c: FloatArray,
    var_mean_t: FloatArray,
    var_mean_c: FloatArray,
    z: float,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Relative lift ``mean_t / mean_c - 1`` and its delta-method CI (independent arms)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = mean_t / mean_c
        se = np.sqrt(var_mean_t / mean_c**2 + mean_t**2 * var_mean_c / mean_c**4)
        se = np.where(se > 0, se, np.nan)
    return ratio - 1.0, ratio - 1.0 - z * se, ratio - 1.0 + z * se


def proportion_effect(
    count_t: ArrayLike,
    n_t: ArrayLike,
    count_c: ArrayLike,
    n_c: ArrayLike,
    *,
    alpha: float = 0.05,
) -> EffectEstimate:
    """Difference of two proportions: unpooled Wald CI, p-value from the pooled z-test.

    Parameters
    ----------
    count_t, n_t, count_c, n_c : array-like
        Successes and customers in the treatment and the control arm (broadcastable arrays).
    alpha : float, default 0.05
        Two-sided level; the CIs are ``1 - alpha``.

    Returns
    -------
    EffectEstimate
        ``abs_*`` on the difference ``p_t - p_c``; ``rel_*`` on ``p_t / p_c - 1`` (delta
        method). A zero standard error gives NaN for the p-value and the CI.

    Examples
    --------
    >>> est = proportion_effect(60, 500, 45, 500)
    >>> round(float(est.abs_diff), 3), round(float(est.p_value), 4)
    (0.03, 0.1218)
    """
    x_t, m_t, x_c, m_c = _f(count_t), _f(n_t), _f(count_c), _f(n_c)
    z = float(stats.norm.ppf(1 - alpha / 2))
    with np.errstate(divide="ignore", invalid="ignore"):
        p_t, p_c = x_t / m_t, x_c / m_c
        var_t, var_c = p_t * (1 - p_t) / m_t, p_c * (1 - p_c) / m_c
        diff = p_t - p_c
        se = np.sqrt(var_t + var_c)
        se = np.where(se > 0, se, np.nan)
        pooled = (x_t + x_c) / (m_t + m_c)
        se0 = np.sqrt(pooled * (1 - pooled) * (1 / m_t + 1 / m_c))
        se0 = np.where(se0 > 0, se0, np.nan)
        p_value = 2 * stats.norm.sf(np.abs(diff / se0))
    rel, rel_low, rel_high = _relative(p_t, p_c, var_t, var_c, z)
    return EffectEstimate(
        p_t, p_c, diff, diff - z * se, diff + z * se, rel, rel_low, rel_high, _f(p_value), se
    )


def welch_effect(
    mean_t: ArrayLike,
    var_t: ArrayLike,
    n_t: ArrayLike,
    mean_c: ArrayLike,
    var_c: ArrayLike,
    n_c: ArrayLike,
    *,
    alpha: float = 0.05,
) -> EffectEstimate:
    """Difference of two means by Welch's t-test (unequal variances), as scipy computes it.

    Parameters
    ----------
    mean_t, var_t, n_t, mean_c, var_c, n_c : array-like
        Mean, sample variance (``ddof=1``) and size of the treatment and control arms.
    alpha : float, default 0.05
        Two-sided level; the CIs are ``1 - alpha``.

    Returns
    -------
    EffectEstimate
        ``abs_*`` from the Welch t distribution with Welch-Satterthwaite degrees of freedom
        (``scipy.stats.ttest_ind(equal_var=False)``); ``rel_*`` by the delta method with a
        normal quantile. A zero standard error gives NaN for the p-value and the CIs.

    References
    ----------
    Welch, B. L. (1947). The generalization of "Student's" problem when several different
    population variances are involved. Biometrika 34, 28-35.

    Examples
    --------
    >>> est = welch_effect(10.5, 4.0, 100, 10.0, 9.0, 120)
    >>> round(float(est.abs_diff), 2), round(float(est.p_value), 4)
    (0.5, 0.1419)
    """
    m_t, v_t, k_t = _f(mean_t), _f(var_t), _f(n_t)
    m_c, v_c, k_c = _f(mean_c), _f(var_c), _f(n_c)
    with np.errstate(divide="ignore", invalid="ignore"):
        vm_t, vm_c = v_t / k_t, v_c / k_c
        se = np.sqrt(vm_t + vm_c)
        se = np.where(se > 0, se, np.nan)
        dof = (vm_t + vm_c) ** 2 / (vm_t**2 / (k_t - 1) + vm_c**2 / (k_c - 1))
        diff = m_t - m_c
        t_crit = stats.t.ppf(1 - alpha / 2, dof)
        p_value = 2 * stats.t.sf(np.abs(diff / se), dof)
    z = float(stats.norm.ppf(1 - alpha / 2))
    rel, rel_low, rel_high = _relative(m_t, m_c, vm_t, vm_c, z)
    return EffectEstimate(
        m_t,
        m_c,
        diff,
        diff - t_crit * se,
        diff + t_crit * se,
        rel,
        rel_low,
        rel_high,
        _f(p_value),
        se,
    )


def _ratio_var(
    num_mean: FloatArray,
    den_mean: FloatArray,
    num_var: FloatArray,
    den_var: FloatArray,
    cov: FloatArray,
    n: FloatArray,
) -> tuple[FloatArray, FloatArray]:
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = num_mean / den_mean
        var = (num_var - 2 * ratio * cov + ratio**2 * den_var) / (n * den_mean**2)
    return ratio, var


def ratio_effect(
    num_mean_t: ArrayLike,
    den_mean_t: ArrayLike,
    num_var_t: ArrayLike,
    den_var_t: ArrayLike,
    cov_t: ArrayLike,
    n_t: ArrayLike,
    num_mean_c: ArrayLike,
    den_mean_c: ArrayLike,
    num_var_c: ArrayLike,
    den_var_c: ArrayLike,
    cov_c: ArrayLike,
    n_c: ArrayLike,
    *,
    alpha: float = 0.05,
) -> EffectEstimate:
    """Difference of two ratio metrics (sum of numerator / sum of denominator) by the delta method.

    Each arm's ratio ``R = mean(num) / mean(den)`` over customers has variance
    ``(var(num) - 2 R cov(num, den) + R^2 var(den)) / (n mean(den)^2)``; the difference and the
    relative lift use normal quantiles, the p-value a z-test.

    References
    ----------
    Deng, A., Knoblich, U. & Lu, J. (2018). Applying the delta method in metric analytics:
    a practical guide with novel ideas. KDD 2018.

    Examples
    --------
    >>> est = ratio_effect(30.0, 1.5, 400.0, 0.5, 8.0, 200, 25.0, 1.4, 380.0, 0.5, 7.0, 200)
    >>> round(float(est.mean), 2), round(float(est.control_mean), 2)
    (20.0, 17.86)
    """
    z = float(stats.norm.ppf(1 - alpha / 2))
    r_t, var_t = _ratio_var(
        _f(num_mean_t), _f(den_mean_t), _f(num_var_t), _f(den_var_t), _f(cov_t), _f(n_t)
    )
    r_c, var_c = _ratio_var(
        _f(num_mean_c), _f(den_mean_c), _f(num_var_c), _f(den_var_c), _f(cov_c), _f(n_c)
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        diff = r_t - r_c
        se = np.sqrt(var_t + var_c)
        se = np.where(se > 0, se, np.nan)
        p_value = 2 * stats.norm.sf(np.abs(diff / se))
    rel, rel_low, rel_high = _relative(r_t, r_c, var_t, var_c, z)
    return EffectEstimate(
        r_t, r_c, diff, diff - z * se, diff + z * se, rel, rel_low, rel_high, _f(p_value), se
    )


def cuped_theta(
    outcome: ArrayLike, covariate: ArrayLike, *, axis: int = -1
) -> tuple[FloatArray, FloatArray]:
    """CUPED slope ``theta = cov(Y, X) / var(X)`` and ``mean(X)`` along ``axis``.

    Pass every arm of an experiment together (pooled); the adjusted outcome is
    ``Y - theta * (X - mean(X))``. A covariate with zero variance gives ``theta = NaN``.

    References
    ----------
    Deng, A., Xu, Y., Kohavi, R. & Walker, T. (2013). Improving the sensitivity of online
    controlled experiments by utilizing pre-experiment data. WSDM 2013.

    Examples
    --------
    >>> theta, x_mean = cuped_theta([2.0, 4.0, 6.0, 9.0], [1.0, 2.0, 3.0, 4.0])
    >>> round(float(theta), 2), float(x_mean)
    (2.3, 2.5)
    """
    y, x = _f(outcome), _f(covariate)
    x_mean = x.mean(axis=axis)
    x_dev = x - np.expand_dims(x_mean, axis)
    y_dev = y - np.expand_dims(y.mean(axis=axis), axis)
    cov = (x_dev * y_dev).sum(axis=axis)
    var = (x_dev**2).sum(axis=axis)
    with np.errstate(divide="ignore", invalid="ignore"):
        theta = np.where(var > 0, cov / var, np.nan)
    return _f(theta), _f(x_mean)


def srm_test(
    counts: Mapping[str, int] | Sequence[int],
    expected_shares: Mapping[str, float] | Sequence[float] | None = None,
) -> dict[str, Any]:
    """Sample-ratio-mismatch check: chi-square goodness of fit of the arm sizes.

    Parameters
    ----------
    counts : mapping or sequence of int
        Customers per arm (``{"control": 5012, "email": 4988}`` or ``[5012, 4988]``).
    expected_shares : mapping or sequence of float, optional
        Planned allocation, same keys or order as ``counts``; rescaled to sum to 1.
        Default: equal shares.

    Returns
    -------
    dict
        ``chi2``, ``df``, ``p_value``, ``srm`` (True when ``p_value < 0.001``, the usual
        threshold that keeps false alarms rare), ``observed`` and ``expected`` counts.

    Examples
    --------
    >>> result = srm_test({"control": 5000, "email": 5100})
    >>> result["srm"], round(result["p_value"], 3)
    (False, 0.32)
    >>> srm_test([1000, 1300])["srm"]
    True
    """
    if isinstance(counts, Mapping):
        names = [str(name) for name in counts]
        observed = np.array([counts[name] for name in counts], dtype=np.float64)
    else:
        names = [str(position) for position in range(len(counts))]
        observed = np.asarray(counts, dtype=np.float64)
    if len(observed) < 2 or np.any(observed < 0) or observed.sum() <= 0:
        raise ValueError(f"counts={list(observed)}: expected >= 2 non-negative arm sizes")
    if expected_shares is None:
        shares = np.full(len(observed), 1.0 / len(observed))
    elif isinstance(expected_shares, Mapping):
        if isinstance(counts, Mapping) and set(expected_shares) == set(counts):
            shares = np.array([expected_shares[name] for name in counts], dtype=np.float64)
        else:
            raise ValueError(
                f"expected_shares keys {sorted(expected_shares)}: expected the arms of counts "
                f"{names}"
            )
    else:
        shares = np.asarray(expected_shares, dtype=np.float64)
    if len(shares) != len(observed) or np.any(shares <= 0):
        raise ValueError(
            f"expected_shares={list(shares)}: expected {len(observed)} positive shares"
        )
    expected = observed.sum() * shares / shares.sum()
    chi2, p_value = stats.chisquare(observed, expected)
    srm = bool(p_value < SRM_ALPHA)
    if srm:
        log.warning("sample ratio mismatch: observed %s, expected %s", observed, expected)
    return {
        "chi2": float(chi2),
        "df": len(observed) - 1,
        "p_value": float(p_value),
        "srm": srm,
        "observed": dict(zip(names, observed.astype(int).tolist(), strict=True)),
        "expected": dict(zip(names, expected.tolist(), strict=True)),
    }


def _baseline_sd(baseline: float, sd: float | None) -> tuple[str, float]:
    if sd is None:
        if not 0 < baseline < 1:
            raise ValueError(
                f"baseline={baseline}: a binary metric needs a rate in (0, 1); "
                "pass sd= for a continuous metric"
            )
        return "binary", math.sqrt(baseline * (1 - baseline))
    if sd <= 0:
        raise ValueError(f"sd={sd}: expected a positive standard deviation")
    return "continuous", float(sd)


def power_and_mde(
    n_control: int,
    n_treatment: int,
    *,
    baseline: float,
    sd: float | None = None,
    alpha: float = 0.05,
    power: float = 0.8,
) -> dict[str, Any]:
    """Minimum detectable effect of a two-arm test of the given sizes (two-sided z-test).

    ``MDE = (z_{1-alpha/2} + z_{power}) * sd * sqrt(1/n_control + 1/n_treatment)``, with
    ``sd = sqrt(baseline (1 - baseline))`` for a binary metric (``sd=None``) or the given
    ``sd`` for a continuous one.

    Returns
    -------
    dict
        ``kind`` ("binary"/"continuous"), ``mde_abs``, ``mde_rel`` (``mde_abs / baseline``),
        ``effect_size`` (standardized, Cohen's d), ``n_control``, ``n_treatment``, ``alpha``,
        ``power``.

    Examples
    --------
    >>> result = power_and_mde(5000, 5000, baseline=0.10)
    >>> result["kind"], round(result["mde_abs"], 4), round(result["mde_rel"], 3)
    ('binary', 0.0168, 0.168)
    """
    kind, unit_sd = _baseline_sd(baseline, sd)
    if n_control < 1 or n_treatment < 1:
        raise ValueError(f"n_control={n_control}, n_treatment={n_treatment}: expected >= 1")
    multiplier = stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)
    effect_size = float(multiplier * math.sqrt(1 / n_control + 1 / n_treatment))
    mde_abs = effect_size * unit_sd
    return {
        "kind": kind,
        "mde_abs": mde_abs,
        "mde_rel": mde_abs / baseline if baseline else math.nan,
        "effect_size": effect_size,
        "n_control": int(n_control),
        "n_treatment": int(n_treatment),
        "alpha": alpha,
        "power": power,
    }


def sample_size(
    baseline: float,
    mde: float,
    *,
    alpha: float = 0.05,
    power: float = 0.8,
    sd: float | None = None,
) -> int:
    """Customers needed per arm (equal allocation) to detect an absolute effect ``mde``.

    The inverse of :func:`power_and_mde`: ``n = 2 ((z_{1-alpha/2} + z_{power}) sd / mde)^2``
    rounded up, with ``sd = sqrt(baseline (1 - baseline))`` for a binary metric (``sd=None``).

    Examples
    --------
    >>> sample_size(0.10, 0.01)
    14128
    >>> sample_size(50.0, 2.0, sd=20.0)
    1570
    """
    _, unit_sd = _baseline_sd(baseline, sd)
    if mde == 0:
        raise ValueError("mde=0: expected a non-zero absolute effect")
    multiplier = stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)
    return int(math.ceil(2 * (multiplier * unit_sd / abs(mde)) ** 2))


def non_inferiority(diff: float, ci_high: float, margin: float) -> str:
    """Verdict on a guardrail metric where higher is worse (e.g. unsubscribe rate).

    Returns ``"non-inferior"`` when the upper CI bound of the difference is below ``margin``,
    ``"inferior"`` when the point estimate itself exceeds ``margin``, else ``"inconclusive"``
    (also for NaN inputs). For a metric where lower is worse, pass ``-diff``, ``-ci_low``.

    Examples
    --------
    >>> non_inferiority(0.001, 0.003, 0.005)
    'non-inferior'
    >>> non_inferiority(0.004, 0.009, 0.005)
    'inconclusive'
    >>> non_inferiority(0.007, 0.010, 0.005)
    'inferior'
    """
    if not margin > 0:
        raise ValueError(f"margin={margin}: expected a positive tolerated worsening")
    if math.isnan(diff) or math.isnan(ci_high):
        return "inconclusive"
    if ci_high < margin:
        return "non-inferior"
    if diff > margin:
        return "inferior"
    return "inconclusive"


def guardrail_status(
    diff: float, ci_low: float, ci_high: float, *, margin: float, worse: str = "higher"
) -> str:
    """Verdict on a guardrail metric, judged in its bad direction.

    ``worse="higher"`` (unsubscribes, complaints): :func:`non_inferiority` on the difference
    and its upper bound. ``worse="lower"`` (retention, visits): the same on the mirrored
    difference, ``-diff`` and ``-ci_low``, so a fall beyond ``margin`` is "inferior".

    Examples
    --------
    >>> guardrail_status(-0.03, -0.05, -0.01, margin=0.02, worse="lower")  # retention fell
    'inferior'
    >>> guardrail_status(-0.03, -0.05, -0.01, margin=0.02, worse="higher")  # unsubscribes fell
    'non-inferior'
    """
    if worse == "higher":
        return non_inferiority(diff, ci_high, margin)
    if worse == "lower":
        return non_inferiority(-diff, -ci_low, margin)
    raise ValueError(f"worse={worse!r}: expected 'higher' or 'lower'")
