"""07_ab_test's statistics on frames and arrays: no SQL, no page, no chart.

- :mod:`crmlib.experiments.models.effects`: effect estimators, CUPED, corrected p-values;
- :mod:`crmlib.experiments.models.health`: sample-ratio mismatch and covariate balance;
- :mod:`crmlib.experiments.models.power`: detectable effects and the next test's sample size;
- :mod:`crmlib.experiments.models.money`: campaign economics and the CLV lift;
- :mod:`crmlib.experiments.models.survival`: time to first purchase (Kaplan-Meier, RMST, by day);
- :mod:`crmlib.experiments.models.verdicts`: guardrails and ship verdicts;
- :mod:`crmlib.experiments.models.small_cells`: which arms are too small to describe.
"""

__all__: list[str] = []
