-- RFM features at two dates in one pass (crmlib.segments.segment_migration): one row per
-- customer with at least one purchase (is_purchase) on or before $as_of, in no particular order
-- and without the customer_id (the migration only counts customers, so the ids never leave the
-- engine). Columns at $as_of: recency_days, frequency, monetary; at the earlier date
-- $as_of_before: recency_days_before (null when the customer had no purchase on or before it:
-- new since then), frequency_before, monetary_before.
-- Reads {{ customer_days }} (crmlib.facts: customer_key, day, purchases, amount; one row per
-- customer and calendar day, purchases = purchase orders, amount = net amount of every row).
-- Definitions as in segments_rfm_features.sql, applied to each date with its own window:
--   window at $as_of:        $window_start <= day < $end_day;
--   window at $as_of_before: $window_start_before <= day < $end_day_before.
-- Parameters (all DATE): $as_of, $as_of_before; $end_day, $end_day_before (the day after each
-- date); $window_start, $window_start_before (each end minus the window length in days).
WITH per_customer AS (
    SELECT
        max(CASE WHEN purchases > 0 THEN day END) AS last_order_date,
        CAST(sum(CASE WHEN day >= $window_start THEN purchases ELSE 0 END) AS BIGINT)
            AS frequency,
        CAST(
            round(
                sum(CASE WHEN day >= $window_start THEN CAST(amount AS DECIMAL(18, 6)) ELSE 0 END),
                2
            ) AS DOUBLE
        ) AS monetary,
        max(CASE WHEN purchases > 0 AND day < $end_day_before THEN day END) AS last_order_date_before,
        CAST(sum(
            CASE
                WHEN day >= $window_start_before AND day < $end_day_before THEN purchases
                ELSE 0
            END
        ) AS BIGINT) AS frequency_before,
        CAST(round(sum(
            CASE
                WHEN day >= $window_start_before AND day < $end_day_before
                    THEN CAST(amount AS DECIMAL(18, 6))
                ELSE 0
            END
        ), 2) AS DOUBLE) AS monetary_before
    FROM {{ customer_days }}
    WHERE day < $end_day
    GROUP BY customer_key
    HAVING max(purchases) > 0
)
SELECT
    CAST(date_diff('day', last_order_date, $as_of) AS BIGINT) AS recency_days,
    frequency,
    monetary,
    CAST(date_diff('day', last_order_date_before, $as_of_before) AS BIGINT) AS recency_days_before,
    frequency_before,
    monetary_before
FROM per_customer;
