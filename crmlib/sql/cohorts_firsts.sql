-- First purchases (crmlib.cohorts): one row per customer with a purchase dated before $end_ts,
-- in temp table {{ firsts }} (customer_id, first_ts, first_category), read by
-- cohorts_members_*.sql.
-- Reads {{ transactions }}: customer_id, order_id, order_ts, is_purchase (and category, through
-- {{ first_category }}: arg_min(category, ...) when the split is asked for, else a NULL literal,
-- so the common case is a plain GROUP BY with min()). Parameters: $end_ts (order_ts < $end_ts).
-- Only purchases (is_purchase) count: cancelled orders and returns never do.
-- first_category is the category of the earliest purchase, ties broken by order_id.
CREATE OR REPLACE TEMP TABLE {{ firsts }} AS
SELECT
    customer_id,
    min(order_ts) AS first_ts,
    CAST({{ first_category }} AS VARCHAR) AS first_category
FROM {{ transactions }}
WHERE is_purchase AND customer_id IS NOT NULL AND order_ts < $end_ts
GROUP BY customer_id;
