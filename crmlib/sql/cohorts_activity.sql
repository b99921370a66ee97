-- Cohort activity (crmlib.cohorts): one row per member of {{ members }} and period k >= 0 since
-- the member's cohort period in which the member has any transaction row dated before $end_ts,
-- in temp table {{ activity }}.
-- Reads {{ members }} (customer_id, cohort_start) and {{ transactions }}: customer_id, order_ts,
-- amount, is_purchase. Parameters: $period, $end_ts (the end of the last complete period).
-- active = 1 when a purchase (is_purchase) falls in the period: returns-only and cancelled-only
-- periods carry revenue but are not activity. is_last_active = 1 on the member's last active
-- period (for "active in k or later" = last active period >= k).
-- net_revenue = sum(amount) of every row (purchases, cancelled orders at 0, returns negative).
CREATE OR REPLACE TEMP TABLE {{ activity }} AS
WITH dated AS (
    SELECT
        t.customer_id,
        CAST(date_diff(
            $period, m.cohort_start, CAST(date_trunc($period, t.order_ts) AS DATE)
        ) AS INTEGER) AS periods_since,
        CASE WHEN t.is_purchase THEN 1 ELSE 0 END AS purchase,
        t.amount
    FROM {{ transactions }} AS t
    JOIN {{ members }} AS m ON m.customer_id = t.customer_id
    WHERE t.order_ts < $end_ts AND t.order_ts >= CAST(m.cohort_start AS TIMESTAMP)
),
per_period AS (
    SELECT
        customer_id,
        periods_since,
        max(purchase) AS active,
        sum(amount) AS net_revenue
    FROM dated
    GROUP BY customer_id, periods_since
)
SELECT
    customer_id,
    periods_since,
    active,
    net_revenue,
    CASE
        WHEN active = 1 AND periods_since = max(CASE WHEN active = 1 THEN periods_since END)
            OVER (PARTITION BY customer_id) THEN 1
        ELSE 0
    END AS is_last_active
FROM per_period;
