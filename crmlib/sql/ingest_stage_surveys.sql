-- 01_ingest: stage one survey-responses file. One row per data row of the raw table <raw>
-- (source_row = 1-based data row number, header excluded: the raw table keeps the file's row
-- order, so it is rowid + 1), parsed, with the first field-level reject reason that applies:
--   missing_customer_id > bad_timestamp (response_ts) > invalid_value (survey not nps/csat,
--   compared in lower case) > invalid_value (score not a whole number in the survey's range:
--   nps 0..10, csat 1..5) > future_timestamp (response_ts)
-- (duplicate_row: ingest_set_rejects.sql.)
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
        response_ts_text,
        survey_text,
        score_text,
        ingest_text(customer_id_text) AS customer_id,
        ingest_text(response_ts_text) AS response_ts_clean,
        lower(ingest_text(survey_text)) AS survey,
        ingest_text(score_text) AS score_clean
    FROM texts
),
casted AS (
    SELECT
        *,
        {{ ts_parser }}(response_ts_clean, $timestamp_format) AS response_ts,
        {{ number_parser }}(score_clean) AS score_cast
    FROM cleaned
),
finite AS (
    SELECT *, ingest_finite(score_cast) AS score_number
    FROM casted
),
parsed AS (
    SELECT
        *,
        ingest_whole(score_number) AS score,
        CASE survey WHEN 'nps' THEN $nps_min WHEN 'csat' THEN $csat_min END AS score_low,
        CASE survey WHEN 'nps' THEN $nps_max WHEN 'csat' THEN $csat_max END AS score_high
    FROM finite
),
checked AS (
    SELECT
        *,
        CASE
            WHEN customer_id IS NULL THEN 'missing_customer_id'
            WHEN response_ts IS NULL THEN 'bad_timestamp'
            WHEN survey IS NULL OR NOT list_contains($survey_types, survey) THEN 'invalid_value'
            WHEN score IS NULL OR score < score_low OR score > score_high THEN 'invalid_value'
            WHEN response_ts >= $future_end THEN 'future_timestamp'
        END AS reason,
        CASE
            WHEN customer_id IS NULL THEN 'customer_id'
            WHEN response_ts IS NULL THEN 'response_ts'
            WHEN survey IS NULL OR NOT list_contains($survey_types, survey) THEN 'survey'
            WHEN score IS NULL OR score < score_low OR score > score_high THEN 'score'
            WHEN response_ts >= $future_end THEN 'response_ts'
        END AS reason_column
    FROM parsed
)
SELECT
    $file_no AS file_no,
    source_row,
    row_hash,
    customer_id,
    response_ts,
    survey,
    score,
    CASE WHEN reason IS NULL AND response_ts >= $as_of_end THEN 'after_as_of' END AS bin,
    CAST(reason AS {{ reason_type }}) AS reason,
    CAST(reason_column AS {{ column_type }}) AS reason_column,
    CASE reason
        WHEN 'missing_customer_id' THEN 'customer_id is empty; expected a customer id'
        WHEN 'bad_timestamp' THEN
            'response_ts ' || ingest_quote(response_ts_text) || ' is not a timestamp; expected '
            || $timestamp_expected
        WHEN 'invalid_value' THEN
            CASE reason_column
                WHEN 'survey' THEN
                    'survey ' || ingest_quote(survey_text) || ' is not a survey type; expected one of '
                    || array_to_string($survey_types, ', ')
                ELSE
                    'score ' || ingest_quote(score_text) || ' is not a whole number from '
                    || CAST(score_low AS VARCHAR) || ' to ' || CAST(score_high AS VARCHAR)
                    || '; expected a score on the ' || survey || ' scale'
            END
        WHEN 'future_timestamp' THEN
            'response_ts ' || strftime(response_ts, '%Y-%m-%d %H:%M:%S') || ' ' || $future_detail
    END AS detail
FROM checked
