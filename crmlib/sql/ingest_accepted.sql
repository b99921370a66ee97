-- 01_ingest: the accepted rows of a staged customers, events or assignments table in the
-- canonical schema: one row per accepted source row (rows after as_of_date are outside the
-- report window and not written).
-- Placeholders: <stage>, <set_rejects>, <columns> (the canonical column list).
SELECT {{ columns }}
FROM {{ stage }} AS s
WHERE s.reason IS NULL
    AND s.bin IS NULL
    AND NOT EXISTS (
        SELECT 1 FROM {{ set_rejects }} AS r WHERE r.file_no = s.file_no AND r.source_row = s.source_row
    )
