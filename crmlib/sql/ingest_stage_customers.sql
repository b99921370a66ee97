-- 01_ingest: stage one customers file. One row per data row of the raw table <raw>
-- (source_row = 1-based data row number, header excluded: the raw table keeps the file's row
-- order, so it is rowid + 1), parsed, with the first field-level
-- reject reason that applies:
--   missing_customer_id > bad_timestamp (signup_ts) > invalid_value (birth_year, then the
--   opt-in flags email, sms, push) > future_timestamp (signup_ts)
-- (duplicate_row and duplicate_customer are set-level: ingest_set_rejects.sql).
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
        signup_ts_text,
        birth_year_text,
        email_opt_in_text,
        sms_opt_in_text,
        push_opt_in_text,
        ingest_text(customer_id_text) AS customer_id,
        ingest_text(signup_ts_text) AS signup_ts_clean,
        ingest_text(acquisition_channel_text) AS acquisition_channel,
        ingest_text(region_text) AS region,
        ingest_text(birth_year_text) AS birth_year_clean,
        ingest_text(email_opt_in_text) AS email_opt_in_clean,
        ingest_text(sms_opt_in_text) AS sms_opt_in_clean,
        ingest_text(push_opt_in_text) AS push_opt_in_clean,
        ingest_text(loyalty_tier_text) AS loyalty_tier
    FROM texts
),
casted AS (
    SELECT
        *,
        {{ ts_parser }}(signup_ts_clean, $timestamp_format) AS signup_ts,
        {{ number_parser }}(birth_year_clean) AS birth_year_cast,
        ingest_bool(email_opt_in_clean, $true_values, $false_values) AS email_opt_in,
        ingest_bool(sms_opt_in_clean, $true_values, $false_values) AS sms_opt_in,
        ingest_bool(push_opt_in_clean, $true_values, $false_values) AS push_opt_in
    FROM cleaned
),
parsed AS (
    SELECT *, ingest_whole(birth_year_cast) AS birth_year
    FROM casted
),
checked AS (
    SELECT
        *,
        CASE
            WHEN customer_id IS NULL THEN 'missing_customer_id'
            WHEN signup_ts_clean IS NOT NULL AND signup_ts IS NULL THEN 'bad_timestamp'
            WHEN birth_year_clean IS NOT NULL
                AND (birth_year IS NULL OR birth_year < 1900 OR birth_year > $as_of_year) THEN 'invalid_value'
            WHEN email_opt_in_clean IS NOT NULL AND email_opt_in IS NULL THEN 'invalid_value'
            WHEN sms_opt_in_clean IS NOT NULL AND sms_opt_in IS NULL THEN 'invalid_value'
            WHEN push_opt_in_clean IS NOT NULL AND push_opt_in IS NULL THEN 'invalid_value'
            WHEN signup_ts >= $future_end THEN 'future_timestamp'
        END AS reason,
        CASE
            WHEN customer_id IS NULL THEN 'customer_id'
            WHEN signup_ts_clean IS NOT NULL AND signup_ts IS NULL THEN 'signup_ts'
            WHEN birth_year_clean IS NOT NULL
                AND (birth_year IS NULL OR birth_year < 1900 OR birth_year > $as_of_year) THEN 'birth_year'
            WHEN email_opt_in_clean IS NOT NULL AND email_opt_in IS NULL THEN 'email_opt_in'
            WHEN sms_opt_in_clean IS NOT NULL AND sms_opt_in IS NULL THEN 'sms_opt_in'
            WHEN push_opt_in_clean IS NOT NULL AND push_opt_in IS NULL THEN 'push_opt_in'
            WHEN signup_ts >= $future_end THEN 'signup_ts'
        END AS reason_column
    FROM parsed
)
SELECT
    $file_no AS file_no,
    source_row,
    row_hash,
    customer_id,
    signup_ts,
    acquisition_channel,
    region,
    birth_year,
    email_opt_in,
    sms_opt_in,
    push_opt_in,
    loyalty_tier,
    CASE WHEN reason IS NULL AND signup_ts >= $as_of_end THEN 'after_as_of' END AS bin,
    CAST(reason AS {{ reason_type }}) AS reason,
    CAST(reason_column AS {{ column_type }}) AS reason_column,
    CASE reason_column
        WHEN 'customer_id' THEN 'customer_id is empty; expected a customer id'
        WHEN 'signup_ts' THEN
            CASE reason
                WHEN 'bad_timestamp' THEN
                    'signup_ts ' || ingest_quote(signup_ts_text) || ' is not a timestamp; expected '
                    || $timestamp_expected
                ELSE
                    'signup_ts ' || strftime(signup_ts, '%Y-%m-%d %H:%M:%S') || ' ' || $future_detail
            END
        WHEN 'birth_year' THEN
            'birth_year ' || ingest_quote(birth_year_text) || ' is not a year; expected a whole number from 1900 to '
            || $as_of_year
        WHEN 'email_opt_in' THEN
            'email_opt_in ' || ingest_quote(email_opt_in_text) || ' is not a boolean; expected one of ' || $bool_expected
        WHEN 'sms_opt_in' THEN
            'sms_opt_in ' || ingest_quote(sms_opt_in_text) || ' is not a boolean; expected one of ' || $bool_expected
        WHEN 'push_opt_in' THEN
            'push_opt_in ' || ingest_quote(push_opt_in_text) || ' is not a boolean; expected one of ' || $bool_expected
    END AS detail
FROM checked
