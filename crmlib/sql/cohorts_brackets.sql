-- Bracket retention for one dimension (crmlib.cohorts.bracket_retention): one row per cohort,
-- dimension value and bracket with >= 1 eligible member.
-- Reads {{ member_brackets }} (cohorts_member_brackets.sql: one row per eligible member and
-- bracket, retained 0/1; its first_category column is read through {{ dimension_value }} as
-- m.first_category) and {{ customers }} (or an empty relation); {{ dimension_value }} as in
-- cohorts_counts.sql.
SELECT
    m.cohort_start,
    {{ dimension_value }} AS dimension_value,
    m.bracket,
    m.days_from,
    m.days_to,
    CAST(count(*) AS BIGINT) AS cohort_size,
    CAST(sum(m.retained) AS BIGINT) AS customers
FROM {{ member_brackets }} AS m
LEFT JOIN {{ customers }} AS c ON c.customer_id = m.customer_id
GROUP BY m.cohort_start, {{ dimension_value }}, m.bracket, m.days_from, m.days_to
ORDER BY cohort_start, dimension_value, days_from, days_to
