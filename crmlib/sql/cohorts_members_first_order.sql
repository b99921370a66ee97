-- Cohort members by first purchase (crmlib.cohorts.cohort_retention and friends): one row per
-- customer with a purchase dated before the end of the covered span, in temp table {{ members }}
-- (customer_key, customer_id, cohort_start, first_date, first_category).
-- Reads {{ firsts }} (customer_key, customer_id, first_ts, first_category: cohorts_firsts.sql or
-- cohorts_firsts_category.sql). Parameters: $period ('week' | 'month' | 'quarter').
-- Only purchases make a customer a member: cancelled orders and returns never do.
CREATE OR REPLACE TEMP TABLE {{ members }} AS
SELECT
    customer_key,
    customer_id,
    CAST(date_trunc($period, first_ts) AS DATE) AS cohort_start,
    CAST(first_ts AS DATE) AS first_date,
    CAST(first_category AS VARCHAR) AS first_category
FROM {{ firsts }};
