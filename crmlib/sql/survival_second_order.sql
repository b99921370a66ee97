-- Time to second order (crmlib.cohorts.second_order_durations): one row per customer with a
-- purchase on or before as_of_date, oldest first order first (ties in customer_id order).
-- Reads {{ customer_facts }} (crmlib.facts: customer_key, customer_id, first_purchase_day,
-- second_purchase_day); {{ customers }}: customer_id and the group columns (an empty relation
-- when the run has no customers table). Parameters: $as_of (as_of_date).
-- {{ group_select }}: the group columns, pre-quoted, '(unknown)' where a customer has none.
-- Only purchases count (is_purchase): cancelled orders and refunds are neither a first nor a
-- second order. The second order is the first purchase on a later calendar day than the first
-- one; more orders on the first day do not make a repeat customer.
-- The first and second purchase days of the whole history are those of any earlier end: a
-- customer bought by as_of_date when the first day is on or before it, and had a second order
-- by then when the second day is. Durations are calendar days; a customer without a second
-- order by as_of_date is censored there (duration = days from the first order to as_of_date,
-- event false).
WITH observed AS (
    SELECT
        customer_key,
        customer_id,
        first_purchase_day AS first_order_date,
        CASE WHEN second_purchase_day <= $as_of THEN second_purchase_day END AS second_order_date
    FROM {{ customer_facts }}
    WHERE first_purchase_day <= $as_of
)
SELECT
    f.customer_id,
    f.first_order_date,
    f.second_order_date,
    CAST(date_diff('day', f.first_order_date, coalesce(f.second_order_date, $as_of)) AS BIGINT)
        AS duration_days,
    f.second_order_date IS NOT NULL AS event,
    CAST(date_diff('day', f.first_order_date, $as_of) AS BIGINT) AS followup_days,
    {{ group_select }}
FROM observed AS f
LEFT JOIN {{ customers }} AS c ON c.customer_id = f.customer_id
ORDER BY f.first_order_date, f.customer_key
