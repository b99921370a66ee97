-- Cohort members by first purchase (crmlib.cohorts.cohort_retention and friends): one row per
-- customer with a purchase dated before the end of the covered span, in temp table {{ members }}.
-- Reads {{ firsts }} (customer_id, first_ts, first_category: cohorts_firsts.sql or
-- cohorts_firsts_from_periods.sql). Parameters: $period ('week' | 'month' | 'quarter').
-- Only purchases make a customer a member: cancelled orders and returns never do.
CREATE OR REPLACE TEMP TABLE {{ members }} AS
SELECT
    customer_id,
    CAST(date_trunc($period, first_ts) AS DATE) AS cohort_start,
    CAST(first_ts AS DATE) AS first_date,
    CAST(first_category AS VARCHAR) AS first_category
FROM {{ firsts }};
