"""Confidence intervals of shares shared by the stages (one implementation, tested once)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

__all__ = ["wilson_interval"]


def wilson_interval(
    successes: Sequence[float] | np.ndarray | pd.Series,
    trials: Sequence[float] | np.ndarray | pd.Series,
    *,
    level: float = 0.95,
) -> tuple[np.ndarray, np.ndarray]:
    """The Wilson score interval of each share ``successes / trials``.

    With *p* the share, *n* the trials and *z* the normal quantile of ``level``: centre
    ``(p + z²/2n) / (1 + z²/n)``, half-width ``z √(p(1-p)/n + z²/4n²) / (1 + z²/n)``. Equal to
    statsmodels' ``proportion_confint(method="wilson")``. NaN where ``trials`` is 0.

    References
    ----------
    Wilson, E. B. (1927). Probable inference, the law of succession, and statistical
    inference. *Journal of the American Statistical Association* 22(158), 209-212.

    Examples
    --------
    >>> lower, upper = wilson_interval([8], [10])
    >>> round(float(lower[0]), 4), round(float(upper[0]), 4)
    (0.4902, 0.9433)
    """
    if not 0 < level < 1:
        raise ValueError(f"level={level!r}: expected a probability between 0 and 1")
    x = np.asarray(successes, dtype="float64")
    n = np.asarray(trials, dtype="float64")
    z2 = float(stats.norm.ppf(0.5 + level / 2)) ** 2
    with np.errstate(invalid="ignore", divide="ignore"):
        n = np.where(n > 0, n, np.nan)
        p = x / n
        centre = (p + z2 / (2 * n)) / (1 + z2 / n)
        half = np.sqrt(z2 * (p * (1 - p) / n + z2 / (4 * n * n))) / (1 + z2 / n)
    return np.clip(centre - half, 0.0, 1.0), np.clip(centre + half, 0.0, 1.0)
