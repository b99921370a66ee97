-- 01_ingest: stage one events file. One row per data row of the raw table <raw>
-- (source_row = 1-based data row number, header excluded: the raw table keeps the file's row
-- order, so it is rowid + 1), parsed, with the first field-level
-- reject reason that applies:
--   missing_customer_id > bad_timestamp (event_ts) > invalid_value (channel, then event_type)
--   > future_timestamp (event_ts)
-- Channel and event type are compared in lower case. (duplicate_row: ingest_set_rejects.sql.)
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
        event_ts_text,
        channel_text,
        event_type_text,
        ingest_text(customer_id_text) AS customer_id,
        ingest_text(event_ts_text) AS event_ts_clean,
        lower(ingest_text(channel_text)) AS channel,
        lower(ingest_text(event_type_text)) AS event_type,
        ingest_text(campaign_id_text) AS campaign_id
    FROM texts
),
parsed AS (
    SELECT *, {{ ts_parser }}(event_ts_clean, $timestamp_format) AS event_ts
    FROM cleaned
),
checked AS (
    SELECT
        *,
        CASE
            WHEN customer_id IS NULL THEN 'missing_customer_id'
            WHEN event_ts IS NULL THEN 'bad_timestamp'
            WHEN channel IS NULL OR NOT list_contains($channels, channel) THEN 'invalid_value'
            WHEN event_type IS NULL OR NOT list_contains($event_types, event_type) THEN 'invalid_value'
            WHEN event_ts >= $future_end THEN 'future_timestamp'
        END AS reason,
        CASE
            WHEN customer_id IS NULL THEN 'customer_id'
            WHEN event_ts IS NULL THEN 'event_ts'
            WHEN channel IS NULL OR NOT list_contains($channels, channel) THEN 'channel'
            WHEN event_type IS NULL OR NOT list_contains($event_types, event_type) THEN 'event_type'
            WHEN event_ts >= $future_end THEN 'event_ts'
        END AS reason_column
    FROM parsed
)
SELECT
    $file_no AS file_no,
    source_row,
    row_hash,
    customer_id,
    event_ts,
    channel,
    event_type,
    campaign_id,
    CASE WHEN reason IS NULL AND event_ts >= $as_of_end THEN 'after_as_of' END AS bin,
    CAST(reason AS {{ reason_type }}) AS reason,
    CAST(reason_column AS {{ column_type }}) AS reason_column,
    CASE reason
        WHEN 'missing_customer_id' THEN 'customer_id is empty; expected a customer id'
        WHEN 'bad_timestamp' THEN
            'event_ts ' || ingest_quote(event_ts_text) || ' is not a timestamp; expected ' || $timestamp_expected
        WHEN 'invalid_value' THEN
            CASE reason_column
                WHEN 'channel' THEN
                    'channel ' || ingest_quote(channel_text) || ' is not a messaging channel; expected one of '
                    || array_to_string($channels, ', ')
                ELSE
                    'event_type ' || ingest_quote(event_type_text) || ' is not an event type; expected one of '
                    || array_to_string($event_types, ', ')
            END
        WHEN 'future_timestamp' THEN
            'event_ts ' || strftime(event_ts, '%Y-%m-%d %H:%M:%S') || ' ' || $future_detail
    END AS detail
FROM checked
