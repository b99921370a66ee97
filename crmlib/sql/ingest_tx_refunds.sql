-- 01_ingest: accepted refund rows of the staged transactions, each with `matched`: whether
-- its target order (target_order_id) is an accepted purchase. Matched refunds are netted into
-- their order; unmatched ones are kept as return rows. One row per accepted refund row.
-- Placeholder <refund_target>: the original order id (the refund's own, or the first group
-- of ingest.refund_order_id_pattern).
CREATE OR REPLACE TABLE ingest_tx_refunds AS
WITH refunds AS (
    SELECT s.*, {{ refund_target }} AS target_order_id
    FROM ingest_stage_transactions AS s
    WHERE s.reason IS NULL
        AND s.is_refund
        AND NOT EXISTS (
            SELECT 1 FROM ingest_set_rejects_transactions AS r
            WHERE r.file_no = s.file_no AND r.source_row = s.source_row
        )
),
matched_orders AS (
    -- set-level rejects never remove an order (its first row is kept), so any accepted
    -- purchase row carrying the id makes the order accepted
    SELECT DISTINCT p.order_id
    FROM ingest_stage_transactions AS p
    WHERE p.reason IS NULL
        AND NOT p.is_refund
        AND p.order_id IN (SELECT target_order_id FROM refunds)
)
SELECT
    f.*,
    f.target_order_id IN (SELECT order_id FROM matched_orders) AS matched
FROM refunds AS f
