-- KPIs by period (crmlib.kpis.kpis_by_period): one row per period in which at least one
-- transaction row is dated; periods without rows are filled with zeros in pandas.
-- Reads {{ transactions }}: customer_id, order_ts, amount, gross_amount, refund_amount, is_purchase.
-- Parameters: $period ('week' | 'month' | 'quarter'), $end_ts (order_ts < $end_ts: the day
-- after as_of_date).
-- Customer counts come from one row per customer and period with a purchase (`activity`).
-- lag() over each customer's active periods classifies the row: new (no earlier active
-- period), returning (last active in the calendar-previous period) or reactivated (earlier).
-- The period of a customer's second purchase is the first active period when it holds >= 2
-- orders, else the second active period when the first held exactly one.
-- Only lag() windows (no running sums): cheaper on DuckDB and portable to Spark.
WITH dated AS (
    SELECT
        customer_id,
        is_purchase,
        amount,
        gross_amount,
        refund_amount,
        CAST(date_trunc($period, order_ts) AS DATE) AS period_start
    FROM {{ transactions }}
    WHERE order_ts < $end_ts
),
money AS (
    SELECT
        period_start,
        sum(amount) AS revenue,
        sum(gross_amount) AS gross_revenue,
        sum(refund_amount) AS refunds,
        CAST(sum(CASE WHEN is_purchase THEN 1 ELSE 0 END) AS BIGINT) AS orders,
        sum(CASE WHEN is_purchase THEN amount ELSE 0 END) AS purchase_amount
    FROM dated
    GROUP BY period_start
),
activity AS (
    SELECT customer_id, period_start, CAST(count(*) AS INTEGER) AS n_orders
    FROM dated
    WHERE is_purchase AND customer_id IS NOT NULL
    GROUP BY customer_id, period_start
),
sequenced AS (
    SELECT
        period_start,
        n_orders,
        CAST(date_trunc($period, period_start - INTERVAL 1 DAY) AS DATE) AS previous_start,
        lag(period_start, 1) OVER (PARTITION BY customer_id ORDER BY period_start) AS last_active_start,
        lag(period_start, 2) OVER (PARTITION BY customer_id ORDER BY period_start) AS active_start_before_last,
        lag(n_orders, 1) OVER (PARTITION BY customer_id ORDER BY period_start) AS last_n_orders
    FROM activity
),
customer_counts AS (
    SELECT
        period_start,
        count(*) AS active_customers,
        CAST(sum(CASE WHEN last_active_start IS NULL THEN 1 ELSE 0 END) AS BIGINT) AS new_customers,
        CAST(sum(CASE WHEN last_active_start = previous_start THEN 1 ELSE 0 END) AS BIGINT)
            AS returning_customers,
        CAST(sum(CASE WHEN last_active_start < previous_start THEN 1 ELSE 0 END) AS BIGINT)
            AS reactivated_customers,
        -- customers whose second purchase ever falls in this period
        CAST(sum(
            CASE
                WHEN last_active_start IS NULL AND n_orders >= 2 THEN 1
                WHEN last_active_start IS NOT NULL AND active_start_before_last IS NULL
                    AND last_n_orders = 1 THEN 1
                ELSE 0
            END
        ) AS BIGINT) AS new_repeat_customers
    FROM sequenced
    GROUP BY period_start
)
SELECT
    m.period_start,
    coalesce(c.active_customers, 0) AS active_customers,
    coalesce(c.new_customers, 0) AS new_customers,
    coalesce(c.returning_customers, 0) AS returning_customers,
    coalesce(c.reactivated_customers, 0) AS reactivated_customers,
    coalesce(c.new_repeat_customers, 0) AS new_repeat_customers,
    m.orders,
    m.purchase_amount,
    m.revenue,
    m.gross_revenue,
    m.refunds
FROM money AS m
LEFT JOIN customer_counts AS c ON c.period_start = m.period_start
ORDER BY m.period_start
