-- RFM features at two dates in one pass (crmlib.segments.segment_migration): one row per
-- customer with at least one purchase (is_purchase) before $end_ts, in no particular order and
-- without the customer_id (the migration only counts customers, so the ids never leave the
-- engine). Columns at $as_of: recency_days, frequency, monetary; at the earlier date
-- $as_of_before: recency_days_before (null when the customer had no purchase before
-- $end_before: new since then), frequency_before, monetary_before.
-- Reads {{ transactions }} (customer_id, order_ts, amount, is_purchase); one row per order,
-- so counting purchase rows counts distinct purchase orders. Definitions as in
-- segments_rfm_features.sql, applied to each date with its own window:
--   window at $as_of:        $window_start <= order_ts < $end_ts;
--   window at $as_of_before: $window_start_before <= order_ts < $end_before.
-- Parameters: $as_of, $as_of_before (DATE); $end_ts, $end_before (midnight after each date);
-- $window_start, $window_start_before (each end minus the window length in days).
WITH per_customer AS (
    SELECT
        customer_id,
        CAST(max(CASE WHEN is_purchase THEN order_ts END) AS DATE) AS last_order_date,
        CAST(sum(CASE WHEN is_purchase AND order_ts >= $window_start THEN 1 ELSE 0 END) AS BIGINT)
            AS frequency,
        CAST(
            round(sum(CASE WHEN order_ts >= $window_start THEN amount ELSE 0.0 END), 2) AS DOUBLE
        ) AS monetary,
        CAST(max(CASE WHEN is_purchase AND order_ts < $end_before THEN order_ts END) AS DATE)
            AS last_order_date_before,
        CAST(sum(
            CASE
                WHEN is_purchase AND order_ts >= $window_start_before AND order_ts < $end_before
                    THEN 1
                ELSE 0
            END
        ) AS BIGINT) AS frequency_before,
        CAST(round(sum(
            CASE
                WHEN order_ts >= $window_start_before AND order_ts < $end_before THEN amount
                ELSE 0.0
            END
        ), 2) AS DOUBLE) AS monetary_before
    FROM {{ transactions }}
    WHERE order_ts < $end_ts
        AND customer_id IS NOT NULL
    GROUP BY customer_id
    HAVING sum(CASE WHEN is_purchase THEN 1 ELSE 0 END) > 0
)
SELECT
    CAST(date_diff('day', last_order_date, $as_of) AS BIGINT) AS recency_days,
    frequency,
    monetary,
    CAST(date_diff('day', last_order_date_before, $as_of_before) AS BIGINT) AS recency_days_before,
    frequency_before,
    monetary_before
FROM per_customer;
