-- 01_ingest: the canonical `transactions` table. One row per accepted order, net of the
-- refunds matched to it, plus one row per unmatched refund (a return on its own date).
--   amount = gross_amount + refund_amount (net); gross_amount >= 0 (0 on returns);
--   refund_amount <= 0; quantity = ordered + refunded (negative) units, null when unknown;
--   is_purchase = an order whose net amount is > 0; is_return = an unmatched refund;
--   customer_known = customer_id is in the accepted customers (null without a customers table);
--   source_row = the order's first source row.
-- Placeholder <orders>: ingest_tx_orders_single.sql or ingest_tx_orders_lines.sql.
WITH orders AS (
    {{ orders }}
),
netted AS (
    SELECT
        target_order_id AS order_id,
        sum(amount) AS refund_amount,
        sum(quantity) AS refund_quantity
    FROM ingest_tx_refunds
    WHERE matched
    GROUP BY target_order_id
),
canonical AS (
    SELECT
        o.order_id,
        o.customer_id,
        o.order_ts,
        round(o.gross_amount + coalesce(n.refund_amount, 0.0), 2) AS amount,
        o.gross_amount,
        round(coalesce(n.refund_amount, 0.0), 2) AS refund_amount,
        o.quantity + coalesce(n.refund_quantity, 0) AS quantity,
        o.product_id,
        o.category,
        o.channel,
        false AS is_return,
        o.file_no,
        o.source_row
    FROM orders AS o
    LEFT JOIN netted AS n ON n.order_id = o.order_id
    UNION ALL
    SELECT
        coalesce(
            f.order_id,
            CASE WHEN $n_files = 1 THEN 'row-' || f.source_row ELSE 'row-' || f.file_no || '-' || f.source_row END
        ) AS order_id,
        f.customer_id,
        f.order_ts,
        f.amount,
        0.0 AS gross_amount,
        f.amount AS refund_amount,
        f.quantity,
        f.product_id,
        f.category,
        f.channel,
        true AS is_return,
        f.file_no,
        f.source_row
    FROM ingest_tx_refunds AS f
    WHERE NOT f.matched
)
SELECT
    CAST(order_id AS VARCHAR) AS order_id,
    CAST(customer_id AS VARCHAR) AS customer_id,
    CAST(order_ts AS TIMESTAMP) AS order_ts,
    CAST(amount AS DOUBLE) AS amount,
    CAST(gross_amount AS DOUBLE) AS gross_amount,
    CAST(refund_amount AS DOUBLE) AS refund_amount,
    CAST(quantity AS BIGINT) AS quantity,
    CAST(product_id AS VARCHAR) AS product_id,
    CAST(category AS VARCHAR) AS category,
    CAST(channel AS VARCHAR) AS channel,
    NOT is_return AND amount > 0 AS is_purchase,
    is_return,
    CASE WHEN $has_customers THEN customer_id IN (SELECT customer_id FROM ingest_known_customers) END
        AS customer_known,
    CAST(source_row AS BIGINT) AS source_row
FROM canonical
