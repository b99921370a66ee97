-- 01_ingest: the raw source records of one file's rejected rows, looked up in the file's raw
-- table <raw> (every source column as read, in file order: source_row = rowid + 1) and
-- written as JSON text: {"source column": "text", ...}.
-- Placeholder <record>: json_object('col', "col", ...) over every source column.
INSERT INTO ingest_reject_records
SELECT
    $table AS "table",
    $file_no AS file_no,
    CAST(rowid AS BIGINT) + 1 AS source_row,
    {{ record }} AS raw_record
FROM {{ raw }}
WHERE CAST(rowid AS BIGINT) + 1 IN (
    SELECT source_row FROM ingest_rejects WHERE "table" = $table AND file_no = $file_no
)
