-- Active customers at a cutoff (crmlib.churn active_customers_count): the number of distinct
-- customers with a purchase (is_purchase) in $lookback_start <= order_ts < $end_ts, both
-- midnights, so whole calendar days.
-- Reads {{ customer_days }} (crmlib.facts: customer_key, day, purchases).
-- Parameters: $lookback_start ($end_ts - lookback_days), $end_ts (midnight after the cutoff day).
SELECT CAST(count(DISTINCT customer_key) AS BIGINT) AS active_customers
FROM {{ customer_days }}
WHERE purchases > 0 AND day >= $lookback_start AND day < $end_ts;
