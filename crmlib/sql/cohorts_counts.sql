-- Cohort counts for one dimension (crmlib.cohorts.cohort_retention / cohort_revenue): one row per
-- cohort, dimension value and period k with activity or revenue, plus one row (k null) per
-- cohort and value without any, so every cohort's size is present.
-- Reads {{ labels }} (cohorts_labels.sql: one row per member with cohort_start and its label
-- columns) and {{ activity }} (cohorts_activity.sql: cohort_start, the same label columns,
-- periods_since, active, net_revenue, is_last_active). {{ dimension_value }} is the label column
-- of the dimension (dim_0 is the literal 'all').
WITH sizes AS (
    SELECT cohort_start, {{ dimension_value }} AS dimension_value, count(*) AS cohort_size
    FROM {{ labels }}
    GROUP BY cohort_start, {{ dimension_value }}
),
counts AS (
    SELECT
        cohort_start,
        {{ dimension_value }} AS dimension_value,
        periods_since,
        CAST(sum(active) AS BIGINT) AS active,
        CAST(sum(is_last_active) AS BIGINT) AS last_active,
        sum(net_revenue) AS net_revenue
    FROM {{ activity }}
    GROUP BY cohort_start, {{ dimension_value }}, periods_since
)
SELECT
    s.cohort_start,
    s.dimension_value,
    CAST(s.cohort_size AS BIGINT) AS cohort_size,
    c.periods_since,
    coalesce(c.active, 0) AS active,
    coalesce(c.last_active, 0) AS last_active,
    coalesce(c.net_revenue, 0.0) AS net_revenue
FROM sizes AS s
LEFT JOIN counts AS c
    ON c.cohort_start = s.cohort_start AND c.dimension_value = s.dimension_value
ORDER BY s.cohort_start, s.dimension_value, c.periods_since
