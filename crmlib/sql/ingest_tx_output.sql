-- 01_ingest: the canonical transactions of the report window, attributed (customer_id set) or
-- not (guest orders; the pipeline writes them apart). One row per accepted order, net of the
-- refunds matched to it, plus one row per refund order id that matches no accepted order (a
-- return on its own date: a cancellation invoice of many lines is one return row).
--   amount = gross_amount + refund_amount (net); gross_amount >= 0 (0 on returns);
--   refund_amount <= 0; quantity = ordered + refunded (negative) units, null when unknown;
--   money is summed exactly in millionths of the currency unit, never rounded here;
--   is_purchase = an order whose net amount is > 0, or ($zero_is_purchase) an order of zero
--   value with no refund and a positive (or unknown) quantity: a free item, a 100% coupon;
--   is_return = an unmatched refund;
--   customer_known = customer_id is in the accepted customers (null without a customers table);
--   source_row = the order's first source row.
-- Placeholder <orders>: ingest_tx_orders_single.sql or ingest_tx_orders_lines.sql.
WITH orders AS (
    {{ orders }}
),
netted AS (
    SELECT
        target_order_id AS order_id,
        sum(ingest_micros(amount)) AS refund_micros,
        sum(quantity) AS refund_quantity
    FROM ingest_tx_refunds
    WHERE matched
    GROUP BY target_order_id
),
returns AS (
    SELECT
        coalesce(
            f.order_id,
            CASE WHEN $n_files = 1 THEN 'row-' || min(f.source_row) ELSE 'row-' || min(f.file_no) || '-' || min(f.source_row) END
        ) AS order_id,
        arg_min(f.customer_id, f.file_no * 1e12 + f.source_row) AS customer_id,
        min(f.order_ts) AS order_ts,
        sum(ingest_micros(f.amount)) AS refund_micros,
        sum(f.quantity) AS quantity,
        arg_min(f.product_id, f.file_no * 1e12 + f.source_row) AS product_id,
        arg_min(f.category, f.file_no * 1e12 + f.source_row) AS category,
        arg_min(f.channel, f.file_no * 1e12 + f.source_row) AS channel,
        min(f.file_no * 1e12 + f.source_row) AS first_line,
        count(*) AS refund_rows
    FROM ingest_tx_refunds AS f
    WHERE NOT f.matched
    GROUP BY f.order_id, f.customer_id IS NULL, CASE WHEN f.order_id IS NULL THEN f.file_no * 1e12 + f.source_row END
),
canonical AS (
    SELECT
        o.order_id,
        o.customer_id,
        o.order_ts,
        (o.gross_micros + coalesce(n.refund_micros, 0)) / 1e6 AS amount,
        o.gross_micros / 1e6 AS gross_amount,
        coalesce(n.refund_micros, 0) / 1e6 AS refund_amount,
        o.quantity + coalesce(n.refund_quantity, 0) AS quantity,
        o.product_id,
        o.category,
        o.channel,
        false AS is_return,
        o.source_row
    FROM orders AS o
    LEFT JOIN netted AS n ON n.order_id = o.order_id
    UNION ALL
    SELECT
        order_id,
        customer_id,
        order_ts,
        refund_micros / 1e6 AS amount,
        0.0 AS gross_amount,
        refund_micros / 1e6 AS refund_amount,
        quantity,
        product_id,
        category,
        channel,
        true AS is_return,
        CAST(first_line % 1e12 AS BIGINT) AS source_row
    FROM returns
)
SELECT
    CAST(order_id AS VARCHAR) AS order_id,
    CAST(c.customer_id AS VARCHAR) AS customer_id,
    CAST(order_ts AS TIMESTAMP) AS order_ts,
    CAST(amount AS DOUBLE) AS amount,
    CAST(gross_amount AS DOUBLE) AS gross_amount,
    CAST(refund_amount AS DOUBLE) AS refund_amount,
    CAST(quantity AS BIGINT) AS quantity,
    CAST(product_id AS VARCHAR) AS product_id,
    CAST(category AS VARCHAR) AS category,
    CAST(channel AS VARCHAR) AS channel,
    NOT is_return AND (
        amount > 0
        OR ($zero_is_purchase AND gross_amount = 0 AND refund_amount = 0 AND coalesce(quantity, 1) > 0)
    ) AS is_purchase,
    is_return,
    CASE WHEN $has_customers AND c.customer_id IS NOT NULL THEN k.customer_id IS NOT NULL END
        AS customer_known,
    CAST(source_row AS BIGINT) AS source_row
FROM canonical AS c
-- a join, not IN (subquery) in the select list: Spark plans that as a nested-loop join
LEFT JOIN (SELECT DISTINCT customer_id FROM ingest_known_customers) AS k
    ON $has_customers AND k.customer_id = c.customer_id
