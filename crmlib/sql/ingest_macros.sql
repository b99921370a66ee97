-- 01_ingest: parsing macros. Text in, a typed value or NULL out: a value that does not parse
-- becomes NULL (and then a reject), never an error. Created once per engine by crmlib.ingest.

-- Text without surrounding spaces; all-space text is NULL. (Empty fields and the null tokens
-- NULL, null, NaN, nan, N/A, n/a, \N are NULL already: the CSV reader's nullstr.)
-- The test for a leading or trailing space keeps the common case (no spaces) cheap.
CREATE OR REPLACE TEMP MACRO ingest_text(x) AS
    CASE WHEN starts_with(x, ' ') OR ends_with(x, ' ') THEN nullif(trim(x), '') ELSE x END;

-- ISO 8601 timestamps ('2025-03-01', '2025-03-01 10:00:00', '2025-03-01T10:00:00.5Z');
-- a UTC offset ('+02:00', '-0500') is converted to UTC. The result is timezone-naive UTC.
-- Text that does not start with a digit is not a timestamp (DuckDB would read 'infinity' and
-- 'epoch' as timestamps, Spark would not).
CREATE OR REPLACE TEMP MACRO ingest_ts_iso(x, fmt) AS
    CASE
        WHEN NOT (substr(x, 1, 1) BETWEEN '0' AND '9') THEN NULL
        WHEN length(x) > 16 AND (contains(substr(x, 17), '+') OR contains(substr(x, 17), '-'))
            THEN timezone('UTC', try_cast(x AS TIMESTAMPTZ))
        ELSE try_cast(x AS TIMESTAMP)
    END;

-- strptime formats without a zone directive, and with one (%z / %Z: converted to UTC).
CREATE OR REPLACE TEMP MACRO ingest_ts_format(x, fmt) AS try_strptime(trim(x), fmt);
CREATE OR REPLACE TEMP MACRO ingest_ts_format_tz(x, fmt) AS timezone('UTC', try_strptime(trim(x), fmt));

-- Numbers with a decimal point ('1234.50', '-12.5', '1e3'), before the finiteness check.
CREATE OR REPLACE TEMP MACRO ingest_number_dot(x) AS try_cast(x AS DOUBLE);

-- Numbers with a decimal comma and optional '.' thousands separators ('1.234,50', '12,5').
-- Anything else ('12.50', '1.23') is not a number in this convention.
CREATE OR REPLACE TEMP MACRO ingest_number_comma(x) AS
    CASE
        WHEN regexp_full_match(x, '[+-]?(\d{1,3}(\.\d{3})+|\d*)(,\d+)?')
            THEN try_cast(replace(replace(x, '.', ''), ',', '.') AS DOUBLE)
    END;

-- A finite number (NaN and infinities are not numbers); the argument is a column.
CREATE OR REPLACE TEMP MACRO ingest_finite(v) AS CASE WHEN isfinite(v) THEN v END;

-- A whole number from a parsed number ('3', '3.0'), NULL for 2.5 (the bound is tested first: floor of
-- an infinity overflows on Spark).
CREATE OR REPLACE TEMP MACRO ingest_whole(v) AS
    CASE WHEN abs(v) < 1e15 AND v = floor(v) THEN CAST(v AS BIGINT) END;

-- Booleans from the configured spellings (compared in lower case).
CREATE OR REPLACE TEMP MACRO ingest_bool(x, true_values, false_values) AS
    CASE
        WHEN list_contains(true_values, lower(x)) THEN true
        WHEN list_contains(false_values, lower(x)) THEN false
    END;

-- Money in integer millionths of the currency unit: every digit an export prints (16.448,
-- 0.0125) is kept, and sums are exact, so revenue read reconciles with the file's own total.
CREATE OR REPLACE TEMP MACRO ingest_micros(v) AS CAST(round(v * 1000000) AS BIGINT);

-- A source value quoted for a reject's detail text.
CREATE OR REPLACE TEMP MACRO ingest_quote(x) AS
    CASE WHEN x IS NULL OR trim(x) = '' THEN '(empty)' ELSE '''' || x || '''' END;
