-- 01_ingest: stage one transactions file. One row per data row of the raw table <raw>
-- (source_row = 1-based data row number, header excluded: the raw table keeps the file's row
-- order, so it is rowid + 1), contract columns parsed, refund rows recognised and signed, and
-- the first field-level reject reason that applies:
--   missing_order_id > bad_timestamp > bad_amount > bad_quantity > future_timestamp
-- (after the run date; duplicate_row, conflicting_order and amount_out_of_bounds, which
-- judges whole orders, are set-level: ingest_set_rejects_transactions.sql).
-- A valid row is in one of three bins (`bin`): NULL = accepted, 'after_as_of' (dated after
-- as_of_date but not after the run date: outside the report window, not invalid) or
-- 'unattributed' (no customer id: a guest order, counted in totals, kept out of customer
-- analytics).
-- Amounts keep the source's precision (rounded to 1e-6 of the currency unit, which removes
-- binary noise from quantity x price and keeps every digit an export prints).
-- Each value is computed once, layer by layer, so the macros only ever see plain columns.
-- Identifiers and labels are trimmed; the parsers accept surrounding spaces themselves.
-- Placeholders: <mapping> maps source columns to <contract>_text (NULL when absent);
-- <ts_parser> and <number_parser> are ingest_* macros chosen from the source settings;
-- <line_amount>, <price_number>, <refund_rule> are expressions chosen from the settings (unit
-- price or amount; the enabled refund rules); <reason_type>, <column_type> are ENUM types
-- (one byte per row instead of a string).
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
        order_ts_text,
        amount_text,
        quantity_text,
        unit_price_text,
        ingest_text(order_id_text) AS order_key,
        ingest_text(customer_id_text) AS customer_id,
        order_ts_text AS order_ts_clean,
        amount_text AS amount_clean,
        quantity_text AS quantity_clean,
        unit_price_text AS unit_price_clean,
        ingest_text(product_id_text) AS product_id,
        ingest_text(category_text) AS category,
        ingest_text(channel_text) AS channel
    FROM texts
),
casted AS (
    SELECT
        *,
        {{ ts_parser }}(order_ts_clean, $timestamp_format) AS order_ts,
        {{ number_parser }}(amount_clean) AS amount_cast,
        {{ number_parser }}(quantity_clean) AS quantity_cast,
        {{ number_parser }}(unit_price_clean) AS unit_price_cast
    FROM cleaned
),
numbers AS (
    SELECT
        *,
        ingest_finite(amount_cast) AS amount_number,
        ingest_whole(quantity_cast) AS quantity_number,
        ingest_finite(unit_price_cast) AS unit_price_number
    FROM casted
),
lines AS (
    SELECT
        *,
        {{ price_number }} AS price_number,
        {{ line_amount }} AS line_amount
    FROM numbers
),
flagged AS (
    SELECT *, {{ refund_rule }} AS is_refund
    FROM lines
),
signed AS (
    SELECT
        *,
        CASE WHEN is_refund THEN -abs(line_amount) ELSE line_amount END AS amount,
        CASE WHEN is_refund THEN -abs(quantity_number) ELSE quantity_number END AS quantity
    FROM flagged
),
checked AS (
    SELECT
        *,
        CASE
            WHEN $has_order_id AND order_key IS NULL THEN 'missing_order_id'
            WHEN order_ts IS NULL THEN 'bad_timestamp'
            WHEN price_number IS NULL THEN 'bad_amount'
            WHEN NOT is_refund AND line_amount < 0 THEN 'bad_amount'
            WHEN quantity_number IS NULL AND (quantity_clean IS NOT NULL OR $use_unit_price) THEN 'bad_quantity'
            WHEN order_ts >= $future_end THEN 'future_timestamp'
        END AS reason
    FROM signed
)
SELECT
    $file_no AS file_no,
    source_row,
    row_hash,
    order_key AS order_id,
    customer_id,
    order_ts,
    amount,
    quantity,
    product_id,
    category,
    channel,
    is_refund,
    CASE
        WHEN reason IS NOT NULL THEN NULL
        WHEN order_ts >= $as_of_end THEN 'after_as_of'
        WHEN customer_id IS NULL THEN 'unattributed'
    END AS bin,
    CAST(reason AS {{ reason_type }}) AS reason,
    CAST(CASE reason
        WHEN 'missing_order_id' THEN 'order_id'
        WHEN 'bad_timestamp' THEN 'order_ts'
        WHEN 'bad_amount' THEN 'amount'
        WHEN 'bad_quantity' THEN 'quantity'
        WHEN 'future_timestamp' THEN 'order_ts'
    END AS {{ column_type }}) AS reason_column,
    CASE reason
        WHEN 'missing_order_id' THEN 'order_id is empty; expected an order id (the column is present)'
        WHEN 'bad_timestamp' THEN
            'order_ts ' || ingest_quote(order_ts_text) || ' is not a timestamp; expected ' || $timestamp_expected
        WHEN 'bad_amount' THEN
            CASE
                WHEN price_number IS NULL AND $use_unit_price THEN
                    'unit price ' || ingest_quote(unit_price_text) || ' is not a number; expected '
                    || $number_expected
                WHEN price_number IS NULL THEN
                    'amount ' || ingest_quote(amount_text) || ' is not a number; expected ' || $number_expected
                ELSE
                    'amount ' || printf('%.2f', line_amount) || ' is negative but the row is not a refund under '
                    || 'ingest.refund_when ' || $refund_rules || '; expected an amount >= 0'
            END
        WHEN 'bad_quantity' THEN
            'quantity ' || ingest_quote(quantity_text) || ' is not a whole number; expected an integer such as 2'
        WHEN 'future_timestamp' THEN
            'order_ts ' || strftime(order_ts, '%Y-%m-%d %H:%M:%S') || ' ' || $future_detail
    END AS detail
FROM checked
