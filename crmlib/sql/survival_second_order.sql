-- Time to second order (crmlib.cohorts.second_order_durations): one row per customer with a
-- purchase on or before as_of_date.
-- Reads {{ transactions }}: customer_id, order_ts, is_purchase; {{ customers }}: customer_id
-- and the group columns (an empty relation when the run has no customers table).
-- Parameters: $end_ts (order_ts < $end_ts: the day after as_of_date), $as_of (as_of_date).
-- {{ group_select }}: the group columns, pre-quoted, '(unknown)' where a customer has none.
-- Only purchases count (is_purchase): cancelled orders and refunds are neither a first nor a
-- second order. The second order is the first purchase on a later calendar day than the first
-- one; more orders on the first day do not make a repeat customer.
-- Durations are calendar days; a customer without a second order by as_of_date is censored
-- there (duration = days from the first order to as_of_date, event false).
WITH purchases AS (
    SELECT customer_id, CAST(order_ts AS DATE) AS order_date
    FROM {{ transactions }}
    WHERE order_ts < $end_ts AND is_purchase AND customer_id IS NOT NULL
),
firsts AS (
    SELECT customer_id, min(order_date) AS first_order_date
    FROM purchases
    GROUP BY customer_id
),
seconds AS (
    SELECT p.customer_id, min(p.order_date) AS second_order_date
    FROM purchases AS p
    JOIN firsts AS f ON f.customer_id = p.customer_id AND p.order_date > f.first_order_date
    GROUP BY p.customer_id
)
SELECT
    f.customer_id,
    f.first_order_date,
    s.second_order_date,
    CAST(date_diff('day', f.first_order_date, coalesce(s.second_order_date, $as_of)) AS BIGINT)
        AS duration_days,
    s.second_order_date IS NOT NULL AS event,
    CAST(date_diff('day', f.first_order_date, $as_of) AS BIGINT) AS followup_days,
    {{ group_select }}
FROM firsts AS f
LEFT JOIN seconds AS s ON s.customer_id = f.customer_id
LEFT JOIN {{ customers }} AS c ON c.customer_id = f.customer_id
ORDER BY f.first_order_date, f.customer_id
