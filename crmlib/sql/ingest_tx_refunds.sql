-- 01_ingest: accepted refund rows of the staged transactions, each with `matched`: whether
-- its target order (target_order_id) is an accepted purchase. Matched refunds are netted into
-- their order; unmatched ones are kept as return rows. One row per accepted refund row.
-- Rows after as_of_date are outside the report window: neither refunds nor orders here.
-- Placeholder <refund_target>: the original order id (the refund's own, or the first group
-- of ingest.refund_order_id_pattern).
CREATE OR REPLACE TABLE ingest_tx_refunds AS
WITH refunds AS (
    SELECT s.*, {{ refund_target }} AS target_order_id
    FROM ingest_stage_transactions AS s
    WHERE s.reason IS NULL
        AND s.bin IS DISTINCT FROM 'after_as_of'
        AND s.is_refund
        AND NOT EXISTS (
            SELECT 1 FROM ingest_set_rejects_transactions AS r
            WHERE r.file_no = s.file_no AND r.source_row = s.source_row
        )
),
matched_orders AS (
    -- an order is accepted when one of its purchase rows is (duplicates and conflicts keep
    -- the first row; amount_out_of_bounds rejects every row of the order)
    SELECT DISTINCT p.order_id
    FROM ingest_stage_transactions AS p
    WHERE p.reason IS NULL
        AND p.bin IS DISTINCT FROM 'after_as_of'
        AND NOT p.is_refund
        AND p.order_id IN (SELECT target_order_id FROM refunds)
        AND NOT EXISTS (
            SELECT 1 FROM ingest_set_rejects_transactions AS r
            WHERE r.file_no = p.file_no AND r.source_row = p.source_row
        )
)
SELECT
    f.*,
    f.target_order_id IN (SELECT order_id FROM matched_orders) AS matched
FROM refunds AS f
