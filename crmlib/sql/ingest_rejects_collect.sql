-- 01_ingest: append one staged table's rejects (field-level and set-level) to `ingest_rejects`.
-- One row per rejected source row; `amount` is the parsed (signed) amount, or null.
-- Placeholders: <stage>, <set_rejects>, <amount> (a column of the stage or NULL).
INSERT INTO ingest_rejects
SELECT
    $table AS "table",
    s.file_no,
    s.source_row,
    s.reason,
    s.reason_column AS "column",
    s.detail,
    CAST({{ amount }} AS DOUBLE) AS amount
FROM {{ stage }} AS s
WHERE s.reason IS NOT NULL
UNION ALL
SELECT
    $table AS "table",
    r.file_no,
    r.source_row,
    r.reason,
    r.reason_column AS "column",
    r.detail,
    CAST({{ amount }} AS DOUBLE) AS amount
FROM {{ set_rejects }} AS r
JOIN {{ stage }} AS s ON s.file_no = r.file_no AND s.source_row = r.source_row
