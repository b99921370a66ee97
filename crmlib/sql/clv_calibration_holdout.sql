-- BTYD calibration / holdout summary (crmlib.clv.calibration_holdout), the statistics of
-- lifetimes' calibration_and_holdout_data: one row per customer whose first purchase
-- (is_purchase) is before $calibration_end_ts, ordered by customer_id.
-- Reads {{ transactions }} (customer_id, order_ts, amount, is_purchase); only purchases count.
-- Calibration: order_ts < $calibration_end_ts; holdout: $calibration_end_ts <= order_ts < $end_ts.
-- Periods as in clv_summary.sql: days since $epoch (a Monday), a period starts on the purchase's
-- day ($period_days = 1) or on the Monday of its ISO week ($period_days = 7); purchases of one
-- customer in the same period and the same part (calibration or holdout) are merged.
--   frequency_cal, recency_cal, T_cal, monetary_value_cal: clv_summary.sql's statistics on the
--   calibration purchases, T_cal ending at $calibration_period (the period start of the
--   calibration end, in days since $epoch);
--   frequency_holdout: periods with a holdout purchase (every one counts, none is a "first");
--   monetary_value_holdout: mean amount of the holdout purchases, one per ORDER (row), not per
--   period, as lifetimes computes it; 0.0 without a holdout purchase;
--   duration_holdout: ($end_period - $calibration_period) / $unit_days, the same for everyone.
-- Parameters: $calibration_end_ts and $end_ts (midnights after the two end days), $epoch (DATE,
-- a Monday), $period_days (BIGINT 1 or 7), $unit_days (DOUBLE 1 or 7), $calibration_period and
-- $end_period (BIGINT).
WITH purchases AS (
    SELECT
        customer_id,
        CAST(date_diff('day', $epoch, CAST(order_ts AS DATE)) AS BIGINT) AS day_number,
        order_ts >= $calibration_end_ts AS in_holdout,
        amount
    FROM {{ transactions }}
    WHERE is_purchase
        AND order_ts < $end_ts
        AND customer_id IS NOT NULL
),
periods AS (
    SELECT
        customer_id,
        in_holdout,
        day_number - (((day_number % $period_days) + $period_days) % $period_days) AS period_day,
        sum(amount) AS period_amount,
        count(*) AS orders
    FROM purchases
    GROUP BY
        customer_id,
        in_holdout,
        day_number - (((day_number % $period_days) + $period_days) % $period_days)
),
parts AS (
    SELECT
        customer_id,
        CASE WHEN in_holdout THEN NULL ELSE period_day END AS cal_period,
        CASE WHEN in_holdout THEN NULL ELSE period_amount END AS cal_amount,
        CASE WHEN in_holdout THEN 1 ELSE 0 END AS holdout_period,
        CASE WHEN in_holdout THEN period_amount ELSE 0.0 END AS holdout_amount,
        CASE WHEN in_holdout THEN orders ELSE 0 END AS holdout_orders
    FROM periods
)
SELECT
    customer_id,
    CAST(count(cal_period) - 1 AS BIGINT) AS frequency_cal,
    CAST(max(cal_period) - min(cal_period) AS DOUBLE) / $unit_days AS recency_cal,
    CAST($calibration_period - min(cal_period) AS DOUBLE) / $unit_days AS T_cal,
    coalesce(
        CAST(sum(cal_amount) - arg_min(cal_amount, cal_period) AS DOUBLE)
        / nullif(count(cal_period) - 1, 0),
        0.0
    ) AS monetary_value_cal,
    CAST(sum(holdout_period) AS BIGINT) AS frequency_holdout,
    coalesce(
        CAST(sum(holdout_amount) AS DOUBLE) / nullif(sum(holdout_orders), 0), 0.0
    ) AS monetary_value_holdout,
    CAST($end_period - $calibration_period AS DOUBLE) / $unit_days AS duration_holdout
FROM parts
GROUP BY customer_id
HAVING count(cal_period) > 0
ORDER BY customer_id
