-- 01_ingest: the `daily_orders` artifact for the orders-per-day chart. One row per calendar
-- day from the first to the last transaction date (days without rows included, as zeros):
-- orders placed that day (returns excluded) and the net revenue dated that day
-- (orders net of their refunds, plus returns); guest (unattributed) orders included.
WITH days AS (
    SELECT
        CAST(order_ts AS DATE) AS date,
        count(*) FILTER (WHERE NOT is_return) AS orders,
        sum(amount) AS net_revenue
    FROM ingest_tx_canonical
    GROUP BY CAST(order_ts AS DATE)
),
span AS (
    SELECT min(date) AS first_day, max(date) AS last_day FROM days
),
calendar AS (
    -- the series unnested on its own, then cast (Spark takes no generator inside an expression)
    SELECT CAST(day AS DATE) AS date
    FROM (SELECT unnest(generate_series(first_day, last_day, INTERVAL 1 DAY)) AS day FROM span)
)
SELECT
    c.date,
    CAST(coalesce(d.orders, 0) AS BIGINT) AS orders,
    round(coalesce(d.net_revenue, 0.0), 2) AS net_revenue
FROM calendar AS c
LEFT JOIN days AS d ON d.date = c.date
ORDER BY c.date
