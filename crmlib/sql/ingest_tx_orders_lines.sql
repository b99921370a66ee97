-- 01_ingest: accepted purchase lines summed per order (source.<table>.line_items: true).
-- One row per order: amounts (exactly, in millionths) and quantities summed over its lines;
-- the customer agrees across lines (conflicts were rejected); the order is dated at its
-- earliest line (lines within ingest.order_time_tolerance_minutes of the first are one
-- order); product_id, category and channel are the first line's; file_no/source_row point
-- at the first line.
SELECT
    coalesce(
        s.order_id,
        CASE WHEN $n_files = 1 THEN 'row-' || min(s.source_row) ELSE 'row-' || min(s.file_no) || '-' || min(s.source_row) END
    ) AS order_id,
    arg_min(s.customer_id, s.file_no * 1e12 + s.source_row) AS customer_id,
    min(s.order_ts) AS order_ts,
    sum(ingest_micros(s.amount)) AS gross_micros,
    sum(s.quantity) AS quantity,
    arg_min(s.product_id, s.file_no * 1e12 + s.source_row) AS product_id,
    arg_min(s.category, s.file_no * 1e12 + s.source_row) AS category,
    arg_min(s.channel, s.file_no * 1e12 + s.source_row) AS channel,
    arg_min(s.file_no, s.file_no * 1e12 + s.source_row) AS file_no,
    arg_min(s.source_row, s.file_no * 1e12 + s.source_row) AS source_row
FROM ingest_stage_transactions AS s
WHERE s.reason IS NULL
    AND s.bin IS DISTINCT FROM 'after_as_of'
    AND NOT s.is_refund
    AND NOT EXISTS (
        SELECT 1 FROM ingest_set_rejects_transactions AS r
        WHERE r.file_no = s.file_no AND r.source_row = s.source_row
    )
GROUP BY s.order_id, CASE WHEN s.order_id IS NULL THEN s.file_no * 1e12 + s.source_row END
