-- Brackets hit per member (crmlib.cohorts.bracket_retention): one row per member of {{ labels }}
-- with a purchase in at least one bracket of {{ brackets }}, in temp table {{ hits }}
-- (customer_key, hit_mask). Day 0 is the calendar day of the first order; offsets are calendar
-- days. hit_mask has bit b.bit set when the member bought on a day offset in bracket b, so one
-- pass over the purchase days answers every bracket (bit_or is idempotent: no DISTINCT needed).
-- Reads {{ customer_days }} (crmlib.facts: customer_key, day, purchases), {{ labels }}
-- (customer_key, first_date) and {{ brackets }} (days_from, days_to, bit = 2^i). Parameters:
-- $end_day (the day after as_of_date), $max_days (the last day of the widest bracket).
CREATE OR REPLACE TEMP TABLE {{ hits }} AS
WITH offsets AS (
    SELECT
        d.customer_key,
        CAST(date_diff('day', l.first_date, d.day) AS INTEGER) AS day_offset
    FROM {{ customer_days }} AS d
    JOIN {{ labels }} AS l ON l.customer_key = d.customer_key
    WHERE d.purchases > 0
        AND d.day < $end_day
        AND d.day > l.first_date
        AND date_diff('day', l.first_date, d.day) <= $max_days
)
SELECT o.customer_key, CAST(bit_or(b.bit) AS BIGINT) AS hit_mask
FROM offsets AS o
JOIN {{ brackets }} AS b ON o.day_offset BETWEEN b.days_from AND b.days_to
GROUP BY o.customer_key;
