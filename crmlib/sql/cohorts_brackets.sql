-- Bracket retention for one dimension (crmlib.cohorts.bracket_retention): one row per cohort,
-- dimension value and bracket with >= 1 eligible member.
-- A member is eligible for bracket [days_from, days_to] when that many days have fully elapsed
-- by as_of_date: first_date + days_to <= $as_of. Retained: a purchase on a day offset in the
-- bracket ({{ days }}).
-- Reads {{ members }}, {{ days }}, {{ brackets }} (bracket, days_from, days_to) and
-- {{ customers }} (or an empty relation); {{ dimension_value }} as in cohorts_counts.sql.
WITH labelled AS (
    SELECT
        m.customer_id,
        m.cohort_start,
        m.first_date,
        {{ dimension_value }} AS dimension_value
    FROM {{ members }} AS m
    LEFT JOIN {{ customers }} AS c ON c.customer_id = m.customer_id
),
eligible AS (
    SELECT l.customer_id, l.cohort_start, l.dimension_value, b.bracket, b.days_from, b.days_to
    FROM labelled AS l
    CROSS JOIN {{ brackets }} AS b
    WHERE date_diff('day', l.first_date, $as_of) >= b.days_to
),
hits AS (
    SELECT DISTINCT d.customer_id, b.bracket
    FROM {{ days }} AS d
    JOIN {{ brackets }} AS b ON d.day_offset BETWEEN b.days_from AND b.days_to
)
SELECT
    e.cohort_start,
    e.dimension_value,
    e.bracket,
    e.days_from,
    e.days_to,
    CAST(count(*) AS BIGINT) AS cohort_size,
    CAST(sum(CASE WHEN h.customer_id IS NOT NULL THEN 1 ELSE 0 END) AS BIGINT) AS customers
FROM eligible AS e
LEFT JOIN hits AS h ON h.customer_id = e.customer_id AND h.bracket = e.bracket
GROUP BY e.cohort_start, e.dimension_value, e.bracket, e.days_from, e.days_to
ORDER BY e.cohort_start, e.dimension_value, e.days_from, e.days_to
