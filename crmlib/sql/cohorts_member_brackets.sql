-- Member brackets (crmlib.cohorts.bracket_retention): one row per member of {{ labels }} and
-- bracket of {{ brackets }} (bracket, days_from, days_to, bit) the member is eligible for, with
-- the member's labels and retained = 1 when the member bought on a day offset in the bracket
-- (bit set in {{ hits }}.hit_mask, joined by customer_key), in temp table {{ member_brackets }}.
-- Built once and counted per dimension by cohorts_brackets.sql.
-- A member is eligible for bracket [days_from, days_to] when that many days have fully elapsed
-- by as_of_date: first_date + days_to <= $as_of. {{ label_columns }}: "l.dim_0, l.dim_1, ...".
CREATE OR REPLACE TEMP TABLE {{ member_brackets }} AS
SELECT
    l.cohort_start,
    {{ label_columns }},
    b.bracket,
    b.days_from,
    b.days_to,
    CASE WHEN (coalesce(h.hit_mask, 0) & b.bit) <> 0 THEN 1 ELSE 0 END AS retained
FROM {{ labels }} AS l
CROSS JOIN {{ brackets }} AS b
LEFT JOIN {{ hits }} AS h ON h.customer_key = l.customer_key
WHERE date_diff('day', l.first_date, $as_of) >= b.days_to;
