-- Purchase span (crmlib.churn churn_features, to explain an empty feature table): one row with
-- first_purchase_ts (the first purchase (is_purchase) ever) and last_before_end_ts (the last
-- purchase before $end_ts, midnight after the cutoff day); NULL when there is none.
-- Reads {{ transactions }}: order_ts, is_purchase. Parameters: $end_ts.
SELECT
    min(order_ts) AS first_purchase_ts,
    max(CASE WHEN order_ts < $end_ts THEN order_ts END) AS last_before_end_ts
FROM {{ transactions }}
WHERE is_purchase;
