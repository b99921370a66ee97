-- 01_ingest: set-level rejects of the staged transactions (`ingest_stage_transactions`), on
-- rows that passed every field-level check and are not after as_of_date (outside the report
-- window, ingest ignores them). One row per rejected source row.
--   duplicate_row: an exact copy (every source column equal) of an earlier row; the first is
--     kept. Also a later positive row of the same order whose parsed content equals the first.
--   conflicting_order: a later positive row of an order_id already seen with different content
--     (line items: a line whose customer_id differs from the order's first line, or whose
--     order_ts is more than $tolerance_seconds from it); the first row by (file, source_row)
--     is kept.
--   amount_out_of_bounds (only when $has_bounds): every line of an order whose lines, summed,
--     fall outside [$amount_min, $amount_max]; refunds are summed per refund order id (a
--     cancellation invoice is judged whole). Rows without an order id are orders of their own.
-- Candidates are found by one hash aggregate first (copies and rows of one order share the
-- order id; without an order_id column, copies share row_hash), so the windows only see
-- repeated rows, and only the orders among them are summed: any other row is an order of one
-- row, judged by its own amount. Placeholder <group_key>: hash(order_id) or row_hash.
CREATE OR REPLACE TABLE ingest_set_rejects_transactions AS
WITH repeated AS (
    SELECT {{ group_key }} AS group_key
    FROM ingest_stage_transactions
    WHERE reason IS NULL AND bin IS DISTINCT FROM 'after_as_of'
    GROUP BY {{ group_key }}
    HAVING count(*) > 1
),
candidates AS MATERIALIZED (
    SELECT *
    FROM ingest_stage_transactions
    WHERE reason IS NULL AND bin IS DISTINCT FROM 'after_as_of'
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
            CASE
                WHEN NOT $line_items AND order_ts IS DISTINCT FROM first_order_ts THEN 'order_ts'
                WHEN $line_items AND abs(date_diff('second', first_order_ts, order_ts)) > $tolerance_seconds
                    THEN 'order_ts'
            END,
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
                || ' with a different ' || differing
                || CASE
                    WHEN $line_items AND differing LIKE '%order_ts%'
                        THEN ' (lines more than ingest.order_time_tolerance_minutes apart)'
                    ELSE ''
                END
                || '; the first row is kept'
        END AS detail
    FROM differences
    WHERE NOT $line_items OR differing <> ''
),
earlier AS (
    SELECT file_no, source_row FROM duplicates
    UNION ALL
    SELECT file_no, source_row FROM conflicts
),
single_orders AS (
    -- an order of one row, or a row without an order id, is an order of its own: its total is
    -- its amount (the candidates hold every order with more than one row)
    SELECT
        s.file_no,
        s.source_row,
        s.is_refund,
        s.amount AS total,
        1 AS lines,
        coalesce(s.order_id, 'row ' || s.source_row || ' of file ' || s.file_no) AS order_key
    FROM ingest_stage_transactions AS s
    WHERE $has_bounds
        AND s.reason IS NULL
        AND s.bin IS DISTINCT FROM 'after_as_of'
        AND (s.amount < $amount_min OR s.amount > $amount_max)
        AND (s.order_id IS NULL OR {{ group_key }} NOT IN (SELECT group_key FROM repeated))
        AND NOT EXISTS (SELECT 1 FROM earlier AS e WHERE e.file_no = s.file_no AND e.source_row = s.source_row)
),
kept_lines AS (
    -- the rows of orders with several rows that are not copies or conflicts of an earlier row
    SELECT c.file_no, c.source_row, c.is_refund, c.amount, c.order_id AS order_key
    FROM candidates AS c
    WHERE $has_bounds
        AND c.order_id IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM earlier AS e WHERE e.file_no = c.file_no AND e.source_row = c.source_row)
),
totals AS (
    SELECT is_refund, order_key, sum(amount) AS total, count(*) AS lines
    FROM kept_lines
    GROUP BY is_refund, order_key
    HAVING sum(amount) < $amount_min OR sum(amount) > $amount_max
),
out_of_bounds AS (
    SELECT file_no, source_row, is_refund, total, lines, order_key FROM single_orders
    UNION ALL
    SELECT k.file_no, k.source_row, t.is_refund, t.total, t.lines, t.order_key
    FROM kept_lines AS k
    JOIN totals AS t ON t.is_refund = k.is_refund AND t.order_key = k.order_key
),
bounds AS (
    SELECT
        file_no,
        source_row,
        'amount_out_of_bounds' AS reason,
        'amount' AS reason_column,
        CASE WHEN is_refund THEN 'refund ' ELSE 'order ' END || order_key || ' totals '
        || printf('%.2f', total)
        || CASE WHEN lines > 1 THEN ' (' || lines || ' lines summed)' ELSE '' END
        -- an unset bound is an infinity, which the engines print differently: said in words
        || ', outside [' || CASE WHEN isfinite($amount_min) THEN printf('%.2f', $amount_min) ELSE 'no minimum' END
        || ', ' || CASE WHEN isfinite($amount_max) THEN printf('%.2f', $amount_max) ELSE 'no maximum' END
        || '] (ingest.amount_min, ingest.amount_max; set them to null to keep every order)' AS detail
    FROM out_of_bounds
)
SELECT * FROM duplicates
UNION ALL
SELECT * FROM conflicts
UNION ALL
SELECT * FROM bounds
