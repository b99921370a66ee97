-- 01_ingest: row and money accounting of one staged table, computed independently of the
-- rejects table. Every row read is in exactly one bin: rejected by a field-level check,
-- rejected by a set-level check, after_as_of (outside the report window), unattributed (no
-- customer id; transactions only) or accepted. Money (transactions) is the parsed amount in
-- integer millionths of the currency unit, per bin.
-- Placeholders: <stage>, <set_rejects>, <amount> (a column or NULL), <purchase> (a condition
-- marking purchase rows: NOT s.is_refund for transactions, else true).
WITH binned AS (
    SELECT
        CASE
            WHEN s.reason IS NOT NULL THEN 'rejected_field'
            WHEN r.source_row IS NOT NULL THEN 'rejected_set'
            WHEN s.bin IS NOT NULL THEN s.bin
            ELSE 'accepted'
        END AS outcome,
        {{ purchase }} AS purchase,
        ingest_micros({{ amount }}) AS micros
    FROM {{ stage }} AS s
    LEFT JOIN {{ set_rejects }} AS r ON r.file_no = s.file_no AND r.source_row = s.source_row
)
SELECT
    count(*) AS rows_read,
    count(*) FILTER (WHERE outcome = 'rejected_field') AS rows_rejected_field,
    count(*) FILTER (WHERE outcome = 'rejected_set') AS rows_rejected_set,
    count(*) FILTER (WHERE outcome = 'after_as_of') AS rows_after_as_of,
    count(*) FILTER (WHERE outcome = 'unattributed') AS rows_unattributed,
    count(*) FILTER (WHERE outcome = 'accepted') AS rows_accepted,
    count(*) FILTER (WHERE outcome IN ('accepted', 'unattributed') AND purchase) AS purchase_rows_in_window,
    coalesce(sum(micros), 0) AS micros_read,
    coalesce(sum(micros) FILTER (WHERE outcome LIKE 'rejected%'), 0) AS micros_rejected,
    coalesce(sum(micros) FILTER (WHERE outcome = 'after_as_of'), 0) AS micros_after_as_of,
    count(*) FILTER (WHERE micros IS NULL) AS rows_without_amount
FROM binned
