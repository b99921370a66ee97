-- 01_ingest: headline figures of the written canonical transactions (view ingest_tx_written).
-- One row. Money in integer cents; dates of orders (not of returns). Customers are counted
-- from one aggregate per customer.
WITH per_customer AS (
    SELECT
        customer_id,
        bool_or(is_purchase) AS purchased,
        bool_or(customer_known = false) AS unknown
    FROM ingest_tx_written
    GROUP BY customer_id
),
customers AS (
    SELECT
        count(*) AS customers,
        count(*) FILTER (WHERE purchased) AS purchasing_customers,
        count(*) FILTER (WHERE unknown) AS unknown_customers
    FROM per_customer
),
totals AS (
    SELECT
        count(*) AS rows_written,
        count(*) FILTER (WHERE NOT is_return) AS orders,
        count(*) FILTER (WHERE is_purchase) AS purchases,
        count(*) FILTER (WHERE NOT is_return AND NOT is_purchase AND refund_amount < 0) AS cancelled_orders,
        count(*) FILTER (WHERE NOT is_return AND amount < 0) AS over_refunded_orders,
        count(*) FILTER (WHERE NOT is_return AND refund_amount < 0) AS orders_with_refunds,
        count(*) FILTER (WHERE is_return) AS returns_kept,
        count(*) FILTER (WHERE NOT is_return AND customer_known = false) AS unknown_customer_orders,
        coalesce(sum(ingest_cents(amount)), 0) AS net_cents,
        coalesce(sum(ingest_cents(gross_amount)), 0) AS gross_cents,
        coalesce(sum(ingest_cents(refund_amount)) FILTER (WHERE NOT is_return), 0) AS refunds_netted_cents,
        coalesce(sum(ingest_cents(amount)) FILTER (WHERE is_return), 0) AS returns_cents,
        CAST(min(order_ts) FILTER (WHERE NOT is_return) AS DATE) AS first_order_date,
        CAST(max(order_ts) FILTER (WHERE NOT is_return) AS DATE) AS last_order_date
    FROM ingest_tx_written
)
SELECT totals.*, customers.*
FROM totals, customers
