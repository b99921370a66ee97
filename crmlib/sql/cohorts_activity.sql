-- Cohort activity (crmlib.cohorts): one row per member of {{ labels }} and period k >= 0 since
-- the member's cohort period in which the member has any transaction row dated before the end of
-- the covered span, with the member's cohort and dimension labels, in temp table {{ activity }}.
-- Reads {{ labels }} (cohorts_labels.sql: customer_key, cohort_start, dim_0, dim_1, ...) and
-- {{ customer_periods }} (customer_key, period_start, active, net_revenue; see
-- cohorts_customer_periods.sql, built with the same $period). Parameters: $period.
-- {{ label_columns }}: the label columns to carry, "l.dim_0, l.dim_1, ...".
-- A row dated on or after the cohort start is exactly a row of a period starting on or after it
-- (cohort_start is a period start), so periods before the cohort are left out here.
-- active = 1 when a purchase (is_purchase) falls in the period: returns-only and cancelled-only
-- periods carry revenue but are not activity. is_last_active = 1 on the member's last active
-- period (for "active in k or later" = last active period >= k): the latest active period of
-- all the customer's periods, which is the latest from the cohort on whenever there is one.
-- net_revenue = sum(amount) of every row (purchases, cancelled orders at 0, returns negative).
CREATE OR REPLACE TEMP TABLE {{ activity }} AS
WITH last_active AS (
    SELECT customer_key, max(period_start) AS last_start
    FROM {{ customer_periods }}
    WHERE active = 1
    GROUP BY customer_key
)
SELECT
    l.cohort_start,
    {{ label_columns }},
    -- both are period starts, so the count is exact; spelled per unit because Spark's DATEDIFF
    -- takes its unit as a keyword, not a bound value
    CAST(
        CASE $period
            WHEN 'week' THEN date_diff('day', l.cohort_start, p.period_start) / 7
            WHEN 'month' THEN (year(p.period_start) - year(l.cohort_start)) * 12
                + month(p.period_start) - month(l.cohort_start)
            ELSE ((year(p.period_start) - year(l.cohort_start)) * 12
                + month(p.period_start) - month(l.cohort_start)) / 3
        END AS INTEGER
    ) AS periods_since,
    p.active,
    p.net_revenue,
    CASE WHEN p.active = 1 AND p.period_start = a.last_start THEN 1 ELSE 0 END AS is_last_active
FROM {{ customer_periods }} AS p
JOIN {{ labels }} AS l ON l.customer_key = p.customer_key
LEFT JOIN last_active AS a ON a.customer_key = p.customer_key
WHERE p.period_start >= l.cohort_start;
