-- Brackets hit per member (crmlib.cohorts.bracket_retention): one row per member of {{ labels }}
-- with a purchase in at least one bracket of {{ brackets }}, in temp table {{ hits }}
-- (customer_id, hit_mask). Day 0 is the calendar day of the first order; offsets are calendar
-- days. hit_mask has bit b.bit set when the member bought on a day offset in bracket b, so one
-- pass over the purchases answers every bracket (bit_or is idempotent: no DISTINCT needed).
-- Reads {{ transactions }} (customer_id, order_ts, is_purchase), {{ labels }} (customer_id,
-- first_date) and {{ brackets }} (days_from, days_to, bit = 2^i). Parameters: $end_ts,
-- $max_days (the last day of the widest bracket).
CREATE OR REPLACE TEMP TABLE {{ hits }} AS
WITH offsets AS (
    SELECT
        t.customer_id,
        CAST(date_diff('day', l.first_date, CAST(t.order_ts AS DATE)) AS INTEGER) AS day_offset
    FROM {{ transactions }} AS t
    JOIN {{ labels }} AS l ON l.customer_id = t.customer_id
    WHERE t.is_purchase
        AND t.order_ts < $end_ts
        AND CAST(t.order_ts AS DATE) > l.first_date
        AND date_diff('day', l.first_date, CAST(t.order_ts AS DATE)) <= $max_days
)
SELECT o.customer_id, CAST(bit_or(b.bit) AS BIGINT) AS hit_mask
FROM offsets AS o
JOIN {{ brackets }} AS b ON o.day_offset BETWEEN b.days_from AND b.days_to
GROUP BY o.customer_id;
