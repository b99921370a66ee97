-- Shared purchase facts, step 2 (crmlib.facts; written by 01_ingest as the `customer_facts`
-- artifact): temp table {{ target }} with one row per customer key of {{ keys }}
-- (crmlib/sql/facts_customer_keys.sql), ordered by customer_key: customer_key, customer_id and
-- the customer's whole purchase history as of the run's data, from {{ customer_days }}
-- (crmlib/sql/facts_customer_days.sql):
--   first_purchase_ts: the earliest purchase (is_purchase) timestamp;
--   first_purchase_day / second_purchase_day / last_purchase_day: the first, the second
--   distinct and the last calendar day with a purchase;
--   purchase_days: days with a purchase; purchases: purchase orders; purchase_amount: their
--   summed amount; amount: net amount of every row.
-- A customer whose rows are all returns or cancellations has NULL purchase facts and 0 counts.
CREATE OR REPLACE TEMP TABLE {{ target }} AS
WITH by_day AS (
    SELECT
        customer_key,
        min(first_purchase_ts) AS first_purchase_ts,
        min(day) FILTER (WHERE purchases > 0) AS first_purchase_day,
        max(day) FILTER (WHERE purchases > 0) AS last_purchase_day,
        CAST(count(*) FILTER (WHERE purchases > 0) AS INTEGER) AS purchase_days,
        CAST(sum(purchases) AS BIGINT) AS purchases,
        sum(purchase_amount) AS purchase_amount,
        sum(amount) AS amount
    FROM {{ customer_days }}
    GROUP BY customer_key
),
seconds AS (
    SELECT d.customer_key, min(d.day) AS second_purchase_day
    FROM {{ customer_days }} AS d
    JOIN by_day AS b ON b.customer_key = d.customer_key AND d.day > b.first_purchase_day
    WHERE d.purchases > 0
    GROUP BY d.customer_key
)
SELECT
    k.customer_key,
    k.customer_id,
    b.first_purchase_ts,
    b.first_purchase_day,
    s.second_purchase_day,
    b.last_purchase_day,
    b.purchase_days,
    b.purchases,
    b.purchase_amount,
    b.amount
FROM {{ keys }} AS k
JOIN by_day AS b ON b.customer_key = k.customer_key
LEFT JOIN seconds AS s ON s.customer_key = k.customer_key
ORDER BY k.customer_key;
