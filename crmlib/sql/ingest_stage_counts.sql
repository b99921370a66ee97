-- 01_ingest: row and money accounting of one staged table, computed independently of the
-- rejects table: rows read, rows rejected by a field-level check, rows rejected by a set-level
-- check, rows accepted; and (transactions) the parsed amounts in integer cents.
-- Placeholders: <stage>, <set_rejects>, <amount> (a column or NULL), <purchase> (a condition
-- marking purchase rows: NOT s.is_refund for transactions, else true).
SELECT
    count(*) AS rows_read,
    count(*) FILTER (WHERE s.reason IS NOT NULL) AS rows_rejected_field,
    count(*) FILTER (WHERE s.reason IS NULL AND r.source_row IS NOT NULL) AS rows_rejected_set,
    count(*) FILTER (WHERE s.reason IS NULL AND r.source_row IS NULL) AS rows_accepted,
    count(*) FILTER (WHERE s.reason IS NULL AND r.source_row IS NULL AND {{ purchase }}) AS purchase_rows_accepted,
    coalesce(sum(ingest_cents({{ amount }})), 0) AS cents_read,
    coalesce(sum(ingest_cents({{ amount }})) FILTER (WHERE s.reason IS NOT NULL OR r.source_row IS NOT NULL), 0)
        AS cents_rejected,
    count(*) FILTER (WHERE {{ amount }} IS NULL) AS rows_without_amount
FROM {{ stage }} AS s
LEFT JOIN {{ set_rejects }} AS r ON r.file_no = s.file_no AND r.source_row = s.source_row
