-- BTYD calibration / holdout summary (crmlib.clv.calibration_holdout), the statistics of
-- lifetimes' calibration_and_holdout_data: one row per customer whose first purchase is on or
-- before $calibration_end, ordered by customer_key (= by customer_id).
-- Reads the shared purchase facts (crmlib.facts): {{ customer_days }} (customer_key, day,
-- purchases, purchase_amount: the purchase orders of each customer-day and their summed amount;
-- only days with a purchase count) and {{ customer_facts }} (customer_key, customer_id).
-- Calibration: day <= $calibration_end; holdout: $calibration_end < day <= $end_day.
-- Periods as in clv_summary.sql: days since $epoch (a Monday), a period starts on the purchase
-- day ($period_days = 1) or on the Monday of its ISO week ($period_days = 7); purchases of one
-- customer in the same period and the same part (calibration or holdout) are merged.
--   frequency_cal, recency_cal, T_cal, monetary_value_cal: clv_summary.sql's statistics on the
--   calibration purchases, T_cal ending at $calibration_period (the period start of the
--   calibration end, in days since $epoch);
--   frequency_holdout: periods with a holdout purchase (every one counts, none is a "first");
--   monetary_value_holdout: mean amount per holdout ORDER, not per period, as lifetimes computes
--   it: the holdout days' summed purchase_amount / their summed purchases; 0.0 without a holdout
--   purchase;
--   duration_holdout: ($end_period - $calibration_period) / $unit_days, the same for everyone.
-- Parameters: $calibration_end and $end_day (DATE, the two end days), $epoch (DATE, a Monday),
-- $period_days (BIGINT 1 or 7), $unit_days (DOUBLE 1 or 7), $calibration_period and $end_period
-- (BIGINT).
WITH purchase_days AS (
    SELECT
        customer_key,
        CAST(date_diff('day', $epoch, day) AS BIGINT) AS day_number,
        day > $calibration_end AS in_holdout,
        purchases,
        purchase_amount
    FROM {{ customer_days }}
    WHERE purchases > 0 AND day <= $end_day
),
-- a customer-day is already a period when periods are days: only ISO weeks are merged here (a
-- GROUP BY on customer and period costs eight times the rest of the query at 1M customers)
periods AS (
    SELECT
        customer_key,
        in_holdout,
        day_number - (((day_number % $period_days) + $period_days) % $period_days) AS period_day,
        sum(purchase_amount) AS period_amount,
        sum(purchases) AS orders
    FROM purchase_days
    WHERE $period_days > 1
    GROUP BY
        customer_key,
        in_holdout,
        day_number - (((day_number % $period_days) + $period_days) % $period_days)
    UNION ALL
    SELECT
        customer_key,
        in_holdout,
        day_number AS period_day,
        purchase_amount AS period_amount,
        purchases AS orders
    FROM purchase_days
    WHERE $period_days = 1
),
parts AS (
    SELECT
        customer_key,
        CASE WHEN in_holdout THEN NULL ELSE period_day END AS cal_period,
        CASE WHEN in_holdout THEN NULL ELSE period_amount END AS cal_amount,
        CASE WHEN in_holdout THEN 1 ELSE 0 END AS holdout_period,
        CASE WHEN in_holdout THEN period_amount ELSE 0.0 END AS holdout_amount,
        CASE WHEN in_holdout THEN orders ELSE 0 END AS holdout_orders
    FROM periods
),
split AS (
    SELECT
        customer_key,
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
        ) AS monetary_value_holdout
    FROM parts
    GROUP BY customer_key
    HAVING count(cal_period) > 0
)
SELECT
    f.customer_id,
    s.frequency_cal,
    s.recency_cal,
    s.T_cal,
    s.monetary_value_cal,
    s.frequency_holdout,
    s.monetary_value_holdout,
    CAST($end_period - $calibration_period AS DOUBLE) / $unit_days AS duration_holdout
FROM split AS s
JOIN {{ customer_facts }} AS f ON f.customer_key = s.customer_key
ORDER BY s.customer_key
