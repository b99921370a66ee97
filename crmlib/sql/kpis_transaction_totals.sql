-- Totals of the transactions table up to as_of_date (crmlib.kpis.transaction_totals), the
-- independent side of the notebook's reconciliation check.
-- Reads {{ transactions }}: order_ts, amount, gross_amount, refund_amount, is_purchase.
-- Parameters: $end_ts (the day after as_of_date).
SELECT
    CAST(sum(CASE WHEN order_ts < $end_ts THEN 1 ELSE 0 END) AS BIGINT) AS transaction_rows,
    CAST(sum(CASE WHEN order_ts < $end_ts AND is_purchase THEN 1 ELSE 0 END) AS BIGINT) AS purchases,
    sum(CASE WHEN order_ts < $end_ts THEN amount ELSE 0 END) AS net_amount,
    sum(CASE WHEN order_ts < $end_ts THEN gross_amount ELSE 0 END) AS gross_amount,
    sum(CASE WHEN order_ts < $end_ts THEN refund_amount ELSE 0 END) AS refund_amount,
    CAST(sum(CASE WHEN order_ts >= $end_ts THEN 1 ELSE 0 END) AS BIGINT) AS rows_after_as_of
FROM {{ transactions }}
