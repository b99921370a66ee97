-- First purchases (crmlib.cohorts): one row per customer with a purchase dated before $end_ts,
-- in temp table {{ firsts }} (customer_key, customer_id, first_ts, first_category), read by
-- cohorts_members_*.sql. first_category is null here: cohorts_firsts_category.sql fills it when
-- the first_category split is asked for.
-- Reads {{ customer_facts }} (crmlib.facts: customer_key, customer_id, first_purchase_ts).
-- Only purchases (is_purchase) count: cancelled orders and returns never do. The first purchase
-- before $end_ts is the customer's first purchase, when that is before $end_ts.
CREATE OR REPLACE TEMP TABLE {{ firsts }} AS
SELECT
    customer_key,
    customer_id,
    first_purchase_ts AS first_ts,
    CAST(NULL AS VARCHAR) AS first_category
FROM {{ customer_facts }}
WHERE first_purchase_ts < $end_ts;
