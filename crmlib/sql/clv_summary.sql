-- BTYD customer summary (crmlib.clv.customer_summary), the statistics of lifetimes'
-- summary_data_from_transaction_data: one row per customer with a purchase (is_purchase) before
-- $end_ts, optionally only customers whose first purchase is on or after $first_from; ordered by
-- customer_id.
-- Reads {{ transactions }} (customer_id, order_ts, amount, is_purchase); only purchases count.
-- Time is counted in days since $epoch, a Monday. A purchase's period starts on its day
-- ($period_days = 1: units day and week) or on the Monday of its ISO week ($period_days = 7: unit
-- calendar_week, pandas' "W" = W-SUN). Purchases in the same period are merged into one, their
-- amounts summed.
--   frequency = periods with a purchase - 1 (repeat periods);
--   recency = (last period - first period) / $unit_days; T = ($end_period - first period) /
--   $unit_days, where $end_period is the period start of the observation end, in days since
--   $epoch; so both are in units (fractions of a week when unit = week);
--   monetary_value = mean of the repeat periods' summed amounts = (all periods' amount - the
--   first period's) / frequency; 0.0 without a repeat period. Zero or negative period totals
--   stay in the mean, as in lifetimes.
--   first_purchase_date: calendar day of the first purchase.
-- Parameters: $end_ts (midnight after the observation end), $epoch (DATE, a Monday),
-- $period_days (BIGINT 1 or 7), $unit_days (DOUBLE 1 or 7), $end_period (BIGINT),
-- $first_from (DATE; 0001-01-01 for every customer).
WITH purchases AS (
    SELECT
        customer_id,
        CAST(order_ts AS DATE) AS order_date,
        CAST(date_diff('day', $epoch, CAST(order_ts AS DATE)) AS BIGINT) AS day_number,
        amount
    FROM {{ transactions }}
    WHERE is_purchase
        AND order_ts < $end_ts
        AND customer_id IS NOT NULL
),
periods AS (
    SELECT
        customer_id,
        day_number - (((day_number % $period_days) + $period_days) % $period_days) AS period_day,
        min(order_date) AS first_date,
        sum(amount) AS period_amount
    FROM purchases
    GROUP BY
        customer_id,
        day_number - (((day_number % $period_days) + $period_days) % $period_days)
)
SELECT
    customer_id,
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
GROUP BY customer_id
HAVING min(first_date) >= $first_from
ORDER BY customer_id
