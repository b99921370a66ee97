-- Customer periods (crmlib.cohorts.cohort_retention / cohort_revenue): one row per customer and
-- period ($period: week, month or quarter) with any transaction row dated before $end_ts, in temp
-- table {{ customer_periods }}. Built once from the transactions, so the member and activity
-- steps read this (much smaller) table instead of joining every transaction row.
-- Reads {{ transactions }}: customer_id, order_ts, amount, is_purchase.
-- active = 1 when a purchase (is_purchase) falls in the period (returns-only and cancelled-only
-- periods carry revenue but are not activity); net_revenue = sum(amount) of every row;
-- first_purchase_ts = the earliest purchase in the period (null when there is none).
CREATE OR REPLACE TEMP TABLE {{ customer_periods }} AS
SELECT
    customer_id,
    CAST(date_trunc($period, order_ts) AS DATE) AS period_start,
    max(CASE WHEN is_purchase THEN 1 ELSE 0 END) AS active,
    sum(amount) AS net_revenue,
    min(CASE WHEN is_purchase THEN order_ts END) AS first_purchase_ts
FROM {{ transactions }}
WHERE customer_id IS NOT NULL AND order_ts < $end_ts
GROUP BY customer_id, CAST(date_trunc($period, order_ts) AS DATE);
