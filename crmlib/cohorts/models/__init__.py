"""Statistics of stage 03_cohorts on frames (no SQL, no charts).

- :mod:`~crmlib.cohorts.models.trend`: do newer cohorts retain better? (binomial GLM) and the
  gap between channels (Newcombe interval);
- :mod:`~crmlib.cohorts.models.survival`: Kaplan–Meier curves and second-order rates;
- :mod:`~crmlib.cohorts.models.pooling`: figures pooled over cohorts or groups, and the
  lifecycle figures the small-cell rule withholds.

The result classes of the trend (:class:`~crmlib.cohorts.models.trend.TrendResult`,
:class:`~crmlib.cohorts.models.trend.ChannelGap`) carry a one-sentence ``describe``.
"""

from __future__ import annotations

from crmlib.cohorts.models.pooling import pool_groups, second_order_summary
from crmlib.cohorts.models.survival import KM_COLUMNS, RATE_COLUMNS, km_curves, second_order_rates
from crmlib.cohorts.models.trend import ChannelGap, TrendResult, channel_gap, retention_trend

__all__ = [
    "KM_COLUMNS",
    "RATE_COLUMNS",
    "ChannelGap",
    "TrendResult",
    "channel_gap",
    "km_curves",
    "pool_groups",
    "retention_trend",
    "second_order_rates",
    "second_order_summary",
]
