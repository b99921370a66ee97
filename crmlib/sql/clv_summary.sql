-- BTYD customer summary (crmlib.clv.customer_summary), the statistics of lifetimes'
-- summary_data_from_transaction_data: one row per customer with a purchase on or before $end_day,
-- optionally only customers whose first purchase is on or after $first_from; ordered by
-- customer_key (= by customer_id).
-- Reads the shared purchase facts (crmlib.facts): {{ customer_days }} (customer_key, day,
-- purchases, purchase_amount: the purchase orders of each customer-day and their summed amount;
-- only days with a purchase count) and {{ customer_facts }} (customer_key, customer_id).
-- Time is counted in days since $epoch, a Monday. A purchase day's period starts on that day
-- ($period_days = 1: units day and week) or on the Monday of its ISO week ($period_days = 7: unit
-- calendar_week, pandas' "W" = W-SUN). Purchases in the same period are merged into one, their
-- amounts summed (a customer-day already merges the orders of one day).
--   frequency = periods with a purchase - 1 (repeat periods);
--   recency = (last period - first period) / $unit_days; T = ($end_period - first period) /
--   $unit_days, where $end_period is the period start of the observation end, in days since
--   $epoch; so both are in units (fractions of a week when unit = week);
--   monetary_value = mean of the repeat periods' summed amounts = (all periods' amount - the
--   first period's) / frequency; 0.0 without a repeat period. Zero or negative period totals
--   stay in the mean, as in lifetimes.
--   first_purchase_date: calendar day of the first purchase.
-- Parameters: $end_day (DATE, the observation end), $epoch (DATE, a Monday), $period_days
-- (BIGINT 1 or 7), $unit_days (DOUBLE 1 or 7), $end_period (BIGINT), $first_from (DATE;
-- NULL for every customer).
WITH purchase_days AS (
    SELECT
        customer_key,
        day,
        CAST(date_diff('day', $epoch, day) AS BIGINT) AS day_number,
        purchase_amount
    FROM {{ customer_days }}
    WHERE purchases > 0 AND day <= $end_day
),
-- a customer-day is already a period when periods are days: only ISO weeks are merged here (a
-- GROUP BY on customer and period costs eight times the rest of the query at 1M customers)
periods AS (
    SELECT
        customer_key,
        day_number - (((day_number % $period_days) + $period_days) % $period_days) AS period_day,
        min(day) AS first_date,
        sum(purchase_amount) AS period_amount
    FROM purchase_days
    WHERE $period_days > 1
    GROUP BY
        customer_key,
        day_number - (((day_number % $period_days) + $period_days) % $period_days)
    UNION ALL
    SELECT customer_key, day_number AS period_day, day AS first_date, purchase_amount
    FROM purchase_days
    WHERE $period_days = 1
),
summary AS (
    SELECT
        customer_key,
        CAST(count(*) - 1 AS BIGINT) AS frequency,
        CAST(max(period_day) - min(period_day) AS DOUBLE) / $unit_days AS recency,
        CAST($end_period - min(period_day) AS DOUBLE) / $unit_days AS T,
        coalesce(
            CAST(sum(period_amount) - arg_min(period_amount, period_day) AS DOUBLE)
            / nullif(count(*) - 1, 0),
            0.0
        ) AS monetary_value,
        min(first_date) AS first_purchase_date
    FROM periods
    GROUP BY customer_key
    HAVING $first_from IS NULL OR min(first_date) >= $first_from
)
SELECT
    f.customer_id,
    s.frequency,
    s.recency,
    s.T,
    s.monetary_value,
    s.first_purchase_date
FROM summary AS s
JOIN {{ customer_facts }} AS f ON f.customer_key = s.customer_key
ORDER BY s.customer_key
