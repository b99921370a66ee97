-- Active customers at a cutoff (crmlib.churn active_customers_count): the number of distinct
-- customers with a purchase (is_purchase) in $lookback_start <= order_ts < $end_ts.
-- Reads {{ transactions }}: customer_id, order_ts, is_purchase.
-- Parameters: $lookback_start ($end_ts - lookback_days), $end_ts (midnight after the cutoff day).
SELECT CAST(count(DISTINCT customer_id) AS BIGINT) AS active_customers
FROM {{ transactions }}
WHERE is_purchase AND order_ts >= $lookback_start AND order_ts < $end_ts
    AND customer_id IS NOT NULL;
