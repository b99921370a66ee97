"""SQL on the engine of stage 03_cohorts: every function runs ``crmlib/sql`` queries and returns frames.

- :mod:`~crmlib.cohorts.queries.grid`: the shared build of the cohort matrices (input checks,
  temp tables, the cached per-cohort count grid);
- :mod:`~crmlib.cohorts.queries.data_start`: where the data begin, and which cohorts hold the
  customers present at the start;
- :mod:`~crmlib.cohorts.queries.matrices`: customer and revenue retention by cohort;
- :mod:`~crmlib.cohorts.queries.brackets`: repeat purchase within day brackets;
- :mod:`~crmlib.cohorts.queries.lifecycle`: lifecycle states and flows per period;
- :mod:`~crmlib.cohorts.queries.survival`: days from the first order to the second.
"""

from __future__ import annotations

from crmlib.cohorts.queries.brackets import BRACKET_COLUMNS, DEFAULT_BRACKETS, bracket_retention
from crmlib.cohorts.queries.data_start import (
    FIRST_COHORT_RULES,
    PRESENT_AT_START,
    DataStart,
    data_start,
)
from crmlib.cohorts.queries.grid import COHORT_BASES
from crmlib.cohorts.queries.lifecycle import (
    LIFECYCLE_COLUMNS,
    LIFECYCLE_STATES,
    TRANSITION_FROM_STATES,
    TRANSITION_TO_STATES,
    lifecycle,
    transition_matrix,
)
from crmlib.cohorts.queries.matrices import (
    RETENTION_COLUMNS,
    RETENTION_DEFINITIONS,
    REVENUE_COLUMNS,
    cohort_retention,
    cohort_revenue,
)
from crmlib.cohorts.queries.survival import UNKNOWN_GROUP, second_order_durations

__all__ = [
    "BRACKET_COLUMNS",
    "COHORT_BASES",
    "DEFAULT_BRACKETS",
    "FIRST_COHORT_RULES",
    "LIFECYCLE_COLUMNS",
    "LIFECYCLE_STATES",
    "PRESENT_AT_START",
    "RETENTION_COLUMNS",
    "RETENTION_DEFINITIONS",
    "REVENUE_COLUMNS",
    "TRANSITION_FROM_STATES",
    "TRANSITION_TO_STATES",
    "UNKNOWN_GROUP",
    "DataStart",
    "bracket_retention",
    "cohort_retention",
    "cohort_revenue",
    "data_start",
    "lifecycle",
    "second_order_durations",
    "transition_matrix",
]
