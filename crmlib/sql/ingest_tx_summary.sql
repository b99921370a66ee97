-- 01_ingest: headline figures of the canonical transactions of the report window (table
-- ingest_tx_canonical: attributed rows have a customer_id, unattributed (guest) rows do not).
-- One row. Money in integer millionths of the currency unit; dates of orders (not of
-- returns). Customers are counted from one aggregate per customer (attributed rows only).
WITH per_customer AS (
    SELECT
        customer_id,
        bool_or(is_purchase) AS purchased,
        bool_or(customer_known = false) AS unknown
    FROM ingest_tx_canonical
    WHERE customer_id IS NOT NULL
    GROUP BY customer_id
),
customers AS (
    SELECT
        count(*) AS customers,
        count(*) FILTER (WHERE purchased) AS purchasing_customers,
        count(*) FILTER (WHERE unknown) AS unknown_customers
    FROM per_customer
),
attributed AS (
    SELECT
        count(*) AS rows_written,
        count(*) FILTER (WHERE NOT is_return) AS orders,
        count(*) FILTER (WHERE is_purchase) AS purchases,
        count(*) FILTER (WHERE is_purchase AND amount = 0) AS zero_value_purchases,
        count(*) FILTER (WHERE NOT is_return AND NOT is_purchase AND refund_amount = 0 AND amount = 0)
            AS zero_value_orders_ignored,
        count(*) FILTER (WHERE NOT is_return AND NOT is_purchase AND refund_amount < 0) AS cancelled_orders,
        count(*) FILTER (WHERE NOT is_return AND amount < 0) AS over_refunded_orders,
        count(*) FILTER (WHERE NOT is_return AND refund_amount < 0) AS orders_with_refunds,
        count(*) FILTER (WHERE is_return) AS returns_kept,
        count(*) FILTER (WHERE NOT is_return AND customer_known = false) AS unknown_customer_orders,
        coalesce(sum(ingest_micros(amount)), 0) AS net_micros,
        coalesce(sum(ingest_micros(gross_amount)), 0) AS gross_micros,
        coalesce(sum(ingest_micros(refund_amount)) FILTER (WHERE NOT is_return), 0) AS refunds_netted_micros,
        coalesce(sum(ingest_micros(amount)) FILTER (WHERE is_return), 0) AS returns_micros,
        CAST(min(order_ts) FILTER (WHERE NOT is_return) AS DATE) AS first_order_date,
        CAST(max(order_ts) FILTER (WHERE NOT is_return) AS DATE) AS last_order_date
    FROM ingest_tx_canonical
    WHERE customer_id IS NOT NULL
),
guests AS (
    SELECT
        count(*) AS unattributed_rows_written,
        count(*) FILTER (WHERE NOT is_return) AS unattributed_orders,
        count(*) FILTER (WHERE is_return) AS unattributed_returns,
        coalesce(sum(ingest_micros(amount)), 0) AS unattributed_micros
    FROM ingest_tx_canonical
    WHERE customer_id IS NULL
),
-- extreme orders: net amount above the far-out fence of Tukey on the log scale
-- (exp(Q3 + 3 IQR) of log amounts of positive orders): flagged in the scorecard, kept
logs AS (
    SELECT amount, ln(amount) AS log_amount
    FROM ingest_tx_canonical
    WHERE NOT is_return AND amount > 0
),
-- The quartiles as quantile_cont gives them (to the last bit or one off): the order
-- statistics at ranks floor(h) and ceil(h), h = (n - 1) q, found from a count per distinct
-- amount and its running total (ln keeps the order of amounts), interpolated linearly.
-- quantile_cont would hold every log amount in memory at once and cannot spill: at 100M
-- orders it ran out of memory under the default 2.5 GB limit; a GROUP BY spills.
amount_counts AS (
    SELECT amount, count(*) AS n
    FROM logs
    GROUP BY amount
),
running AS (
    SELECT amount, sum(n) OVER (ORDER BY amount ROWS UNBOUNDED PRECEDING) AS through
    FROM amount_counts
),
ranks AS (
    SELECT q, CAST((total - 1) AS DOUBLE) * q AS h
    FROM (SELECT sum(n) AS total FROM amount_counts) AS counted,
        (VALUES (0.25), (0.75)) AS levels (q)
),
quartiles AS (
    SELECT
        r.q,
        ln(min(a.amount) FILTER (WHERE a.through > floor(r.h))) AS low,
        ln(min(a.amount) FILTER (WHERE a.through > ceil(r.h))) AS high,
        r.h - floor(r.h) AS d
    FROM ranks AS r, running AS a
    GROUP BY r.q, r.h
),
fence AS (
    SELECT q3 + 3 * (q3 - q1) AS log_fence
    FROM (
        SELECT
            max(low + (high - low) * d) FILTER (WHERE q = 0.25) AS q1,
            max(low + (high - low) * d) FILTER (WHERE q = 0.75) AS q3
        FROM quartiles
    ) AS quartile_values
),
extremes AS (
    SELECT
        exp(any_value(f.log_fence)) AS extreme_order_fence,
        count(l.amount) FILTER (WHERE l.log_amount > f.log_fence) AS extreme_orders,
        coalesce(sum(ingest_micros(l.amount)) FILTER (WHERE l.log_amount > f.log_fence), 0) AS extreme_micros,
        max(l.amount) AS largest_order
    FROM fence AS f
    LEFT JOIN logs AS l ON true
)
SELECT attributed.*, guests.*, customers.*, extremes.*
FROM attributed, guests, customers, extremes
