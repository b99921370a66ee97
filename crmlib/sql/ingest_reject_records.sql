-- 01_ingest: the raw source records of one file's rejected rows, looked up in the file's raw
-- table <raw> (every source column as read, in file order: source_row = rowid + 1) and
-- written as JSON text: {"source column": "text", ...}.
-- Placeholders: <record>: json_object('col', "col", ...) over every source column; <rowids>:
-- the rows to fetch, either a constant `rowid IN (...)` list (few rejects: no scan) or a
-- semi-join on ingest_rejects.
INSERT INTO ingest_reject_records
SELECT
    $table AS "table",
    $file_no AS file_no,
    CAST(rowid AS BIGINT) + 1 AS source_row,
    {{ record }} AS raw_record
FROM {{ raw }}
WHERE {{ rowids }}
