-- Member brackets (crmlib.cohorts.bracket_retention): one row per member of {{ members }} and
-- bracket of {{ brackets }} (bracket, days_from, days_to) the member is eligible for, with
-- retained = 1 when the member bought on a day offset in the bracket ({{ days }}), in temp table
-- {{ member_brackets }}. Built once and counted per dimension by cohorts_brackets.sql.
-- A member is eligible for bracket [days_from, days_to] when that many days have fully elapsed
-- by as_of_date: first_date + days_to <= $as_of.
CREATE OR REPLACE TEMP TABLE {{ member_brackets }} AS
WITH hits AS (
    SELECT DISTINCT d.customer_id, b.bracket
    FROM {{ days }} AS d
    JOIN {{ brackets }} AS b ON d.day_offset BETWEEN b.days_from AND b.days_to
)
SELECT
    m.customer_id,
    m.cohort_start,
    m.first_category,
    b.bracket,
    b.days_from,
    b.days_to,
    CASE WHEN h.customer_id IS NOT NULL THEN 1 ELSE 0 END AS retained
FROM {{ members }} AS m
CROSS JOIN {{ brackets }} AS b
LEFT JOIN hits AS h ON h.customer_id = m.customer_id AND h.bracket = b.bracket
WHERE date_diff('day', m.first_date, $as_of) >= b.days_to;
