-- Days after the first order with a purchase (crmlib.cohorts.bracket_retention): one row per
-- member of {{ members }} and day offset in [1, $max_days] with >= 1 purchase, in temp table
-- {{ days }}. Day 0 is the calendar day of the first order; offsets are calendar days.
-- Reads {{ transactions }}: customer_id, order_ts, is_purchase. Parameters: $end_ts, $max_days.
CREATE OR REPLACE TEMP TABLE {{ days }} AS
SELECT DISTINCT
    t.customer_id,
    CAST(date_diff('day', m.first_date, CAST(t.order_ts AS DATE)) AS INTEGER) AS day_offset
FROM {{ transactions }} AS t
JOIN {{ members }} AS m ON m.customer_id = t.customer_id
WHERE t.is_purchase
    AND t.order_ts < $end_ts
    AND date_diff('day', m.first_date, CAST(t.order_ts AS DATE)) BETWEEN 1 AND $max_days;
