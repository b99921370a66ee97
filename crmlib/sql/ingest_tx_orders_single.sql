-- 01_ingest: accepted purchase rows as orders, one source row per order (the default).
-- An absent order_id column gives each row its own id, derived from its position: row-<n>
-- (row-<file>-<n> when the source has several files).
SELECT
    coalesce(
        s.order_id,
        CASE WHEN $n_files = 1 THEN 'row-' || s.source_row ELSE 'row-' || s.file_no || '-' || s.source_row END
    ) AS order_id,
    s.customer_id,
    s.order_ts,
    ingest_micros(s.amount) AS gross_micros,
    s.quantity,
    s.product_id,
    s.category,
    s.channel,
    s.file_no,
    s.source_row
FROM ingest_stage_transactions AS s
WHERE s.reason IS NULL
    AND s.bin IS DISTINCT FROM 'after_as_of'
    AND NOT s.is_refund
    AND NOT EXISTS (
        SELECT 1 FROM ingest_set_rejects_transactions AS r
        WHERE r.file_no = s.file_no AND r.source_row = s.source_row
    )
