"""CLV statistics on frames and arrays: the BTYD models, their fits and the fitted objects.

One module per model holds its likelihood, its closed forms (expected purchases, P(alive),
the purchase-count pmf, the per-customer log-likelihood) and its kernel:
:mod:`~crmlib.clv.models.bgnbd`, :mod:`~crmlib.clv.models.mbgnbd`,
:mod:`~crmlib.clv.models.paretonbd`, :mod:`~crmlib.clv.models.nbd` (no dropout),
:mod:`~crmlib.clv.models.gamma_gamma` (spend) and :mod:`~crmlib.clv.models.empirical` (the
observed-rate fallback). What they share is in :mod:`~crmlib.clv.models.base`; the registries
keyed by model name are assembled in :mod:`~crmlib.clv.models.registry`. Fitting:
:mod:`~crmlib.clv.models.inputs` (checked inputs), :mod:`~crmlib.clv.models.optimize` (the
optimizer), :mod:`~crmlib.clv.models.fitters` (lifetimes' and crmlib's fitter objects) and
:mod:`~crmlib.clv.models.fitting` (:class:`~crmlib.clv.models.fitting.FittedModel`, the fits,
the eligibility rule). No SQL, no sentences beyond a fit's notes, no charts.
"""

from __future__ import annotations

__all__: list[str] = []
