-- Customer periods (crmlib.cohorts.cohort_retention / cohort_revenue): one row per customer and
-- period ($period: week, month or quarter) with any transaction row dated before $end_day (a
-- period start), in temp table {{ customer_periods }}. Built once, so the activity step reads this
-- (much smaller) table.
-- Reads {{ customer_days }} (crmlib.facts: customer_key, day, purchases, amount): a period is a
-- run of whole calendar days, so its rows are exactly the customer-days it holds.
-- active = 1 when a purchase (is_purchase) falls in the period (returns-only and cancelled-only
-- periods carry revenue but are not activity); net_revenue = sum(amount) of every row.
CREATE OR REPLACE TEMP TABLE {{ customer_periods }} AS
SELECT
    customer_key,
    CAST(date_trunc($period, day) AS DATE) AS period_start,
    max(CASE WHEN purchases > 0 THEN 1 ELSE 0 END) AS active,
    sum(amount) AS net_revenue
FROM {{ customer_days }}
WHERE day < $end_day
GROUP BY customer_key, CAST(date_trunc($period, day) AS DATE);
