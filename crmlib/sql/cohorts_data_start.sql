-- Data start (crmlib.cohorts.data_start): the earliest order_ts of any row of {{ transactions }}
-- dated before $end_ts (purchases, cancelled orders, refunds, guest orders alike: the first day
-- the export covers), and the number of such rows.
SELECT min(order_ts) AS data_start, CAST(count(*) AS BIGINT) AS row_count
FROM {{ transactions }}
WHERE order_ts < $end_ts
