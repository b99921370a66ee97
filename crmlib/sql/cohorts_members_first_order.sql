-- Cohort members by first purchase (crmlib.cohorts.cohort_retention and friends): one row per
-- customer with a purchase dated before $end_ts, in temp table {{ members }}.
-- Reads {{ transactions }}: customer_id, order_id, order_ts, is_purchase (and category, through
-- {{ first_category }}: arg_min(category, ...) when the split is asked for, else a NULL literal,
-- so the common case is a plain GROUP BY with min()).
-- Parameters: $period ('week' | 'month' | 'quarter'), $end_ts (order_ts < $end_ts).
-- Only purchases (is_purchase) make a customer a member: cancelled orders and returns never do.
-- first_category is the category of the earliest purchase, ties broken by order_id.
CREATE OR REPLACE TEMP TABLE {{ members }} AS
WITH firsts AS (
    SELECT
        customer_id,
        min(order_ts) AS first_ts,
        {{ first_category }} AS first_category
    FROM {{ transactions }}
    WHERE is_purchase AND customer_id IS NOT NULL AND order_ts < $end_ts
    GROUP BY customer_id
)
SELECT
    customer_id,
    CAST(date_trunc($period, first_ts) AS DATE) AS cohort_start,
    CAST(first_ts AS DATE) AS first_date,
    CAST(first_category AS VARCHAR) AS first_category
FROM firsts;
