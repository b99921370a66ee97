"""07_ab_test's SQL: the experiment table, from the assignments or from a platform's export.

- :mod:`crmlib.experiments.queries.outcomes`: outcomes per assigned customer, in SQL on the engine;
- :mod:`crmlib.experiments.queries.export`: an experimentation platform's export, read in SQL;
- :mod:`crmlib.experiments.queries.data`: the experiment table 07_ab_test analyses, from either.
"""

__all__: list[str] = []
