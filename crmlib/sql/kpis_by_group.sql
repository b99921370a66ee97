-- Active and returning customers and their revenue by period and group (crmlib.kpis.kpis_by_group):
-- the parts, one group of a customer dimension at a time, of kpis_by_period's retention and
-- revenue per active customer, for the mix-shift decomposition (crmlib.kpis.mix).
-- Reads {{ transactions }} (customer_id, order_ts, amount, is_purchase) and {{ customers }}
-- (customer_id, {{ dimension }}: the group; a customer missing from it, or without a value,
-- is in the group '(unknown)').
-- Parameters: $period ('week' | 'month' | 'quarter'), $end_ts (order_ts < $end_ts).
-- As in kpis_by_period: a customer is active in a period with >= 1 purchase, and returning
-- when also active in the calendar-previous period. revenue: the net amount of every row of
-- the period's active customers in the period (rows of customers who bought nothing in it,
-- such as refunds that match no order, are in no group; kpis_by_period counts them).
WITH dated AS (
    SELECT
        customer_id,
        is_purchase,
        amount,
        CAST(date_trunc($period, order_ts) AS DATE) AS period_start
    FROM {{ transactions }}
    WHERE order_ts < $end_ts AND customer_id IS NOT NULL
),
per_customer AS (
    SELECT
        customer_id,
        period_start,
        max(CASE WHEN is_purchase THEN 1 ELSE 0 END) AS active,
        sum(amount) AS revenue
    FROM dated
    GROUP BY customer_id, period_start
),
sequenced AS (
    SELECT
        customer_id,
        period_start,
        revenue,
        CAST(date_trunc($period, period_start - INTERVAL 1 DAY) AS DATE) AS previous_start,
        lag(period_start, 1) OVER (PARTITION BY customer_id ORDER BY period_start) AS last_active_start
    FROM per_customer
    WHERE active = 1
),
grouped AS (
    SELECT
        s.period_start,
        s.revenue,
        CASE WHEN s.last_active_start = s.previous_start THEN 1 ELSE 0 END AS is_returning,
        coalesce(CAST(c.{{ dimension }} AS VARCHAR), '(unknown)') AS group_label
    FROM sequenced AS s
    LEFT JOIN {{ customers }} AS c ON c.customer_id = s.customer_id
)
SELECT
    period_start,
    group_label,
    CAST(count(*) AS BIGINT) AS active_customers,
    CAST(sum(is_returning) AS BIGINT) AS returning_customers,
    sum(revenue) AS revenue
FROM grouped
GROUP BY period_start, group_label
ORDER BY period_start, group_label
