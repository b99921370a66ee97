-- 01_ingest: stage one experiment-assignments file. One row per data row of the raw table
-- <raw> (source_row = 1-based data row number, header excluded: the raw table keeps the file's row
-- order, so it is rowid + 1), parsed, with the
-- first field-level reject reason that applies:
--   missing_customer_id > invalid_value (experiment_id, then variant empty) > bad_timestamp
--   (assigned_ts) > bad_amount (cost not a number) > invalid_value (cost < 0)
--   > future_timestamp (assigned_ts)
-- (duplicate_row and conflicting_assignment are set-level: ingest_set_rejects.sql.)
WITH texts AS (
    SELECT
        CAST(rowid AS BIGINT) + 1 AS source_row,
        ingest_row_hash AS row_hash,
        {{ mapping }}
    FROM {{ raw }}
),
cleaned AS (
    SELECT
        source_row,
        row_hash,
        assigned_ts_text,
        cost_text,
        ingest_text(customer_id_text) AS customer_id,
        ingest_text(experiment_id_text) AS experiment_id,
        ingest_text(variant_text) AS variant,
        ingest_text(assigned_ts_text) AS assigned_ts_clean,
        ingest_text(cost_text) AS cost_clean
    FROM texts
),
casted AS (
    SELECT
        *,
        {{ ts_parser }}(assigned_ts_clean, $timestamp_format) AS assigned_ts,
        {{ number_parser }}(cost_clean) AS cost_cast
    FROM cleaned
),
parsed AS (
    SELECT *, cost_clean IS NOT NULL AS has_cost, round(ingest_finite(cost_cast), 2) AS cost
    FROM casted
),
checked AS (
    SELECT
        *,
        CASE
            WHEN customer_id IS NULL THEN 'missing_customer_id'
            WHEN experiment_id IS NULL THEN 'invalid_value'
            WHEN variant IS NULL THEN 'invalid_value'
            WHEN assigned_ts IS NULL THEN 'bad_timestamp'
            WHEN has_cost AND cost IS NULL THEN 'bad_amount'
            WHEN cost < 0 THEN 'invalid_value'
            WHEN assigned_ts >= $future_end THEN 'future_timestamp'
        END AS reason,
        CASE
            WHEN customer_id IS NULL THEN 'customer_id'
            WHEN experiment_id IS NULL THEN 'experiment_id'
            WHEN variant IS NULL THEN 'variant'
            WHEN assigned_ts IS NULL THEN 'assigned_ts'
            WHEN has_cost AND cost IS NULL THEN 'cost'
            WHEN cost < 0 THEN 'cost'
            WHEN assigned_ts >= $future_end THEN 'assigned_ts'
        END AS reason_column
    FROM parsed
)
SELECT
    $file_no AS file_no,
    source_row,
    row_hash,
    customer_id,
    experiment_id,
    variant,
    assigned_ts,
    cost,
    CASE WHEN reason IS NULL AND assigned_ts >= $as_of_end THEN 'after_as_of' END AS bin,
    CAST(reason AS {{ reason_type }}) AS reason,
    CAST(reason_column AS {{ column_type }}) AS reason_column,
    CASE reason
        WHEN 'missing_customer_id' THEN 'customer_id is empty; expected a customer id'
        WHEN 'bad_timestamp' THEN
            'assigned_ts ' || ingest_quote(assigned_ts_text) || ' is not a timestamp; expected ' || $timestamp_expected
        WHEN 'bad_amount' THEN 'cost ' || ingest_quote(cost_text) || ' is not a number; expected ' || $number_expected
        WHEN 'future_timestamp' THEN
            'assigned_ts ' || strftime(assigned_ts, '%Y-%m-%d %H:%M:%S') || ' ' || $future_detail
        WHEN 'invalid_value' THEN
            CASE reason_column
                WHEN 'cost' THEN 'cost ' || printf('%.2f', cost) || ' is negative; expected a cost >= 0'
                ELSE reason_column || ' is empty; expected a value'
            END
    END AS detail
FROM checked
