"""Churn statistics on frames: training, baselines, drivers, the scorecard, value at risk.

One module per job: :mod:`~crmlib.churn.models.training` (the calibrated models),
:mod:`~crmlib.churn.models.baselines` (the recency rule and rank, the BTYD forecast),
:mod:`~crmlib.churn.models.drivers` (permutation importance, partial dependence),
:mod:`~crmlib.churn.models.scorecard` (holdout metrics) and
:mod:`~crmlib.churn.models.value` (value at risk and the contact decision). No SQL of their
own (the BTYD baseline gets its summary from :func:`crmlib.clv.customer_summary`), no
sentences, no charts: those are :mod:`crmlib.churn.queries`, :mod:`crmlib.churn.text`,
:mod:`crmlib.churn.tables` and :mod:`crmlib.churn.plots`.
"""

from __future__ import annotations

__all__: list[str] = []
