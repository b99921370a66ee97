-- 01_ingest: stage one marketing-spend file. One row per data row of the raw table <raw>
-- (source_row = 1-based data row number, header excluded: the raw table keeps the file's row
-- order, so it is rowid + 1), parsed, with the first field-level reject reason that applies:
--   bad_timestamp (date not a date) > invalid_value (acquisition_channel empty) > bad_amount
--   (spend empty or not a number) > invalid_value (spend < 0) > future_timestamp (date)
-- A timestamp with a time of day is read as its day. (duplicate_row and conflicting_spend, a
-- repeated date, acquisition_channel and campaign, are set-level: ingest_set_rejects.sql.)
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
        date_text,
        spend_text,
        ingest_text(date_text) AS date_clean,
        ingest_text(acquisition_channel_text) AS acquisition_channel,
        ingest_text(spend_text) AS spend_clean,
        ingest_text(campaign_text) AS campaign
    FROM texts
),
casted AS (
    SELECT
        *,
        {{ ts_parser }}(date_clean, $timestamp_format) AS spend_ts,
        {{ number_parser }}(spend_clean) AS spend_cast
    FROM cleaned
),
parsed AS (
    SELECT *, round(ingest_finite(spend_cast), 6) AS spend
    FROM casted
),
checked AS (
    SELECT
        *,
        CASE
            WHEN spend_ts IS NULL THEN 'bad_timestamp'
            WHEN acquisition_channel IS NULL THEN 'invalid_value'
            WHEN spend IS NULL THEN 'bad_amount'
            WHEN spend < 0 THEN 'invalid_value'
            WHEN spend_ts >= $future_end THEN 'future_timestamp'
        END AS reason,
        CASE
            WHEN spend_ts IS NULL THEN 'date'
            WHEN acquisition_channel IS NULL THEN 'acquisition_channel'
            WHEN spend IS NULL THEN 'spend'
            WHEN spend < 0 THEN 'spend'
            WHEN spend_ts >= $future_end THEN 'date'
        END AS reason_column
    FROM parsed
)
SELECT
    $file_no AS file_no,
    source_row,
    row_hash,
    CAST(spend_ts AS DATE) AS "date",
    acquisition_channel,
    spend,
    campaign,
    CASE WHEN reason IS NULL AND spend_ts >= $as_of_end THEN 'after_as_of' END AS bin,
    CAST(reason AS {{ reason_type }}) AS reason,
    CAST(reason_column AS {{ column_type }}) AS reason_column,
    CASE reason
        WHEN 'bad_timestamp' THEN 'date ' || ingest_quote(date_text) || ' is not a date; expected ' || $date_expected
        WHEN 'bad_amount' THEN 'spend ' || ingest_quote(spend_text) || ' is not a number; expected ' || $number_expected
        WHEN 'invalid_value' THEN
            CASE reason_column
                WHEN 'spend' THEN 'spend ' || ingest_quote(spend_text) || ' is negative; expected a spend >= 0'
                ELSE 'acquisition_channel is empty; expected the channel the money was spent on'
            END
        WHEN 'future_timestamp' THEN 'date ' || strftime(spend_ts, '%Y-%m-%d') || ' ' || $future_detail
    END AS detail
FROM checked
