-- First purchases from customer periods (crmlib.cohorts): as cohorts_firsts.sql without
-- first_category (always null), read from {{ customer_periods }} (cohorts_customer_periods.sql,
-- which already keeps only rows dated before its $end_ts) instead of every transaction row.
-- One row per customer with a purchase, in temp table {{ firsts }} (customer_id, first_ts,
-- first_category).
CREATE OR REPLACE TEMP TABLE {{ firsts }} AS
SELECT
    customer_id,
    min(first_purchase_ts) AS first_ts,
    CAST(NULL AS VARCHAR) AS first_category
FROM {{ customer_periods }}
WHERE first_purchase_ts IS NOT NULL
GROUP BY customer_id;
