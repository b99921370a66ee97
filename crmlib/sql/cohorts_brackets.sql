-- Bracket retention for one dimension (crmlib.cohorts.bracket_retention): one row per cohort,
-- dimension value and bracket with >= 1 eligible member.
-- Reads {{ member_brackets }} (cohorts_member_brackets.sql: one row per eligible member and
-- bracket with its label columns and retained 0/1). {{ dimension_value }} is the label column of
-- the dimension (dim_0 is the literal 'all').
SELECT
    cohort_start,
    {{ dimension_value }} AS dimension_value,
    bracket,
    days_from,
    days_to,
    CAST(count(*) AS BIGINT) AS cohort_size,
    CAST(sum(retained) AS BIGINT) AS customers
FROM {{ member_brackets }}
GROUP BY cohort_start, {{ dimension_value }}, bracket, days_from, days_to
ORDER BY cohort_start, dimension_value, days_from, days_to
