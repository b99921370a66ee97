-- Shared purchase facts, step 1 (crmlib.facts; written by 01_ingest as the `customer_days`
-- artifact): temp table {{ target }} with one row per customer and calendar day with any
-- transaction row, ordered by customer_key, day.
-- Reads {{ transactions }} (customer_id, order_ts, amount, gross_amount, refund_amount,
-- is_purchase; rows without a customer id are left out) and {{ keys }} (customer_id,
-- customer_key: crmlib/sql/facts_customer_keys.sql).
--   purchases: purchase rows (is_purchase) that day, i.e. purchase orders;
--   purchase_amount: sum of their amount (NULL on a day without a purchase);
--   first_purchase_ts: the earliest purchase's timestamp (NULL on a day without a purchase; for
--   customer_facts, and not part of the artifact: a time of day per row would make it half
--   again as large);
--   amount: net sum of amount over every row of the day (purchases, cancelled orders,
--   unmatched refunds); gross_amount: sum of gross_amount; refund_amount: sum of
--   |refund_amount| (either sign convention), NULL where every row's is NULL.
-- A day is a calendar day of order_ts, so a window that starts or ends at a midnight reads the
-- same rows from this table as from the transactions.
CREATE OR REPLACE TEMP TABLE {{ target }} AS
SELECT
    k.customer_key,
    d.day,
    d.purchases,
    d.purchase_amount,
    d.first_purchase_ts,
    d.amount,
    d.gross_amount,
    d.refund_amount
FROM (
    SELECT
        customer_id,
        CAST(order_ts AS DATE) AS day,
        CAST(sum(CASE WHEN is_purchase THEN 1 ELSE 0 END) AS INTEGER) AS purchases,
        sum(CASE WHEN is_purchase THEN amount END) AS purchase_amount,
        min(CASE WHEN is_purchase THEN order_ts END) AS first_purchase_ts,
        sum(amount) AS amount,
        sum(gross_amount) AS gross_amount,
        sum(abs(refund_amount)) AS refund_amount
    FROM {{ transactions }}
    WHERE customer_id IS NOT NULL
    GROUP BY customer_id, CAST(order_ts AS DATE)
) AS d
JOIN {{ keys }} AS k ON k.customer_id = d.customer_id
ORDER BY k.customer_key, d.day;
