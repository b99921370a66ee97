-- Cohort counts for one dimension (crmlib.cohorts.cohort_retention / cohort_revenue): one row per
-- cohort, dimension value and period k with activity or revenue, plus one row (k null) per
-- cohort and value without any, so every cohort's size is present.
-- Reads {{ members }} (customer_id, cohort_start, first_category), {{ activity }} (customer_id,
-- periods_since, active, net_revenue, is_last_active) and {{ customers }} (customer_id and the
-- dimension column, or an empty relation). {{ dimension_value }} is the dimension's expression
-- (a quoted literal 'all', or coalesce(CAST(column AS VARCHAR), '(unknown)')).
WITH labelled AS (
    SELECT
        m.customer_id,
        m.cohort_start,
        {{ dimension_value }} AS dimension_value
    FROM {{ members }} AS m
    LEFT JOIN {{ customers }} AS c ON c.customer_id = m.customer_id
),
sizes AS (
    SELECT cohort_start, dimension_value, count(*) AS cohort_size
    FROM labelled
    GROUP BY cohort_start, dimension_value
),
counts AS (
    SELECT
        l.cohort_start,
        l.dimension_value,
        a.periods_since,
        CAST(sum(a.active) AS BIGINT) AS active,
        CAST(sum(a.is_last_active) AS BIGINT) AS last_active,
        sum(a.net_revenue) AS net_revenue
    FROM {{ activity }} AS a
    JOIN labelled AS l ON l.customer_id = a.customer_id
    GROUP BY l.cohort_start, l.dimension_value, a.periods_since
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
