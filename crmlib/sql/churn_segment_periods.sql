-- Retention by RFM segment, step 2 (crmlib.churn.trend.churn_by_segment): one row per period and
-- segment with at least one customer in the base: base_customers (bought in the period before),
-- retained_customers (of them, bought again in the period).
-- Reads {{ members }} (churn_segment_members.sql: period_start, customer_key, segment, retained).
SELECT
    period_start,
    segment AS dimension_value,
    CAST(count(*) AS BIGINT) AS base_customers,
    CAST(sum(retained) AS BIGINT) AS retained_customers
FROM {{ members }}
GROUP BY period_start, segment
ORDER BY period_start, dimension_value
