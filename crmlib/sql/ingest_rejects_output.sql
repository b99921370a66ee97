-- 01_ingest: the `rejects` artifact. One row per rejected source row of any table, in table
-- order then file and source row: where it came from, the reason code, the column, a readable
-- detail (found vs expected), the parsed amount (transactions) and the raw record as JSON.
SELECT
    r."table",
    f.source_file,
    r.source_row,
    r.reason,
    r."column",
    r.detail,
    r.amount,
    rec.raw_record
FROM ingest_rejects AS r
LEFT JOIN ingest_files AS f ON f."table" = r."table" AND f.file_no = r.file_no
LEFT JOIN ingest_reject_records AS rec
    ON rec."table" = r."table" AND rec.file_no = r.file_no AND rec.source_row = r.source_row
ORDER BY
    CASE r."table" WHEN 'transactions' THEN 1 WHEN 'customers' THEN 2 WHEN 'events' THEN 3 ELSE 4 END,
    r.file_no,
    r.source_row
