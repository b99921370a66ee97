-- 01_ingest: set-level rejects of the staged transactions (`ingest_stage_transactions`), on
-- rows that passed every field-level check. One row per rejected source row.
--   duplicate_row: an exact copy (every source column equal) of an earlier row; the first is
--     kept. Also a later positive row of the same order whose parsed content equals the first.
--   conflicting_order: a later positive row of an order_id already seen with different content
--     (line items: a line whose customer_id or order_ts differs from the order's first line);
--     the first row by (file, source_row) is kept.
-- Candidates are found by one hash aggregate first (copies and rows of one order share the
-- order id; without an order_id column, copies share row_hash), so the windows only see
-- repeated rows. Placeholder <group_key>: hash(order_id) or row_hash.
CREATE OR REPLACE TABLE ingest_set_rejects_transactions AS
WITH repeated AS (
    SELECT {{ group_key }} AS group_key
    FROM ingest_stage_transactions
    WHERE reason IS NULL
    GROUP BY {{ group_key }}
    HAVING count(*) > 1
),
candidates AS MATERIALIZED (
    SELECT *
    FROM ingest_stage_transactions
    WHERE reason IS NULL
        AND {{ group_key }} IN (SELECT group_key FROM repeated)
),
copies AS (
    SELECT
        file_no,
        source_row,
        row_number() OVER same_row AS copy_number,
        first_value(file_no) OVER same_row AS first_file,
        first_value(source_row) OVER same_row AS first_row
    FROM candidates
    WINDOW same_row AS (
        PARTITION BY row_hash, order_id, customer_id, order_ts, amount, quantity, product_id, category, channel
        ORDER BY file_no, source_row
    )
),
duplicates AS (
    SELECT
        file_no,
        source_row,
        'duplicate_row' AS reason,
        CAST(NULL AS VARCHAR) AS reason_column,
        'exact duplicate of row ' || first_row
        || CASE WHEN first_file <> file_no THEN ' of file ' || first_file ELSE '' END
        || '; the first copy is kept' AS detail
    FROM copies
    WHERE copy_number > 1
),
purchases AS (
    SELECT v.*
    FROM candidates AS v
    WHERE NOT v.is_refund
        AND v.order_id IS NOT NULL
        AND NOT EXISTS (
            SELECT 1 FROM duplicates AS d WHERE d.file_no = v.file_no AND d.source_row = v.source_row
        )
),
order_rows AS (
    SELECT
        *,
        row_number() OVER same_order AS row_in_order,
        first_value(file_no) OVER same_order AS first_file,
        first_value(source_row) OVER same_order AS first_row,
        first_value(customer_id) OVER same_order AS first_customer_id,
        first_value(order_ts) OVER same_order AS first_order_ts,
        first_value(amount) OVER same_order AS first_amount,
        first_value(quantity) OVER same_order AS first_quantity,
        first_value(product_id) OVER same_order AS first_product_id,
        first_value(category) OVER same_order AS first_category,
        first_value(channel) OVER same_order AS first_channel
    FROM purchases
    WINDOW same_order AS (PARTITION BY order_id ORDER BY file_no, source_row)
),
differences AS (
    SELECT
        file_no,
        source_row,
        first_file,
        first_row,
        order_id,
        concat_ws(
            ', ',
            CASE WHEN customer_id IS DISTINCT FROM first_customer_id THEN 'customer_id' END,
            CASE WHEN order_ts IS DISTINCT FROM first_order_ts THEN 'order_ts' END,
            CASE WHEN NOT $line_items AND amount IS DISTINCT FROM first_amount THEN 'amount' END,
            CASE WHEN NOT $line_items AND quantity IS DISTINCT FROM first_quantity THEN 'quantity' END,
            CASE WHEN NOT $line_items AND product_id IS DISTINCT FROM first_product_id THEN 'product_id' END,
            CASE WHEN NOT $line_items AND category IS DISTINCT FROM first_category THEN 'category' END,
            CASE WHEN NOT $line_items AND channel IS DISTINCT FROM first_channel THEN 'channel' END
        ) AS differing
    FROM order_rows
    WHERE row_in_order > 1
),
conflicts AS (
    SELECT
        file_no,
        source_row,
        CASE WHEN differing = '' THEN 'duplicate_row' ELSE 'conflicting_order' END AS reason,
        CASE WHEN differing = '' THEN NULL ELSE split_part(differing, ', ', 1) END AS reason_column,
        CASE
            WHEN differing = '' THEN
                'same content as row ' || first_row
                || CASE WHEN first_file <> file_no THEN ' of file ' || first_file ELSE '' END
                || ' of order ' || order_id || '; the first row is kept'
            ELSE
                'order ' || order_id || ' was first read at row ' || first_row
                || CASE WHEN first_file <> file_no THEN ' of file ' || first_file ELSE '' END
                || ' with a different ' || differing || '; the first row is kept'
        END AS detail
    FROM differences
    WHERE NOT $line_items OR differing <> ''
)
SELECT * FROM duplicates
UNION ALL
SELECT * FROM conflicts
