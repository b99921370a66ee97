-- 01_ingest: set-level rejects of a staged customers, events or assignments table, on rows
-- that passed every field-level check and are in the report window (not after as_of_date).
-- One row per rejected source row.
--   duplicate_row: an exact copy (every source column equal) of an earlier row, or a later row
--     of the same key whose parsed content equals the first; the first is kept.
--   key conflicts (duplicate_customer / conflicting_assignment): a later row of the same key
--     (<key>) with different content; the first row by (file, source_row) is kept.
-- Candidates come from one hash aggregate (copies share the key, or without a key the
-- row_hash), so the windows only see repeated rows.
-- Placeholders: <stage>, <target>, <content> (the parsed contract columns), <key> (key
-- columns; used only when the table has a key), <group_key> (hash of the key, or row_hash).
CREATE OR REPLACE TABLE {{ target }} AS
WITH repeated AS (
    SELECT {{ group_key }} AS group_key
    FROM {{ stage }}
    WHERE reason IS NULL AND bin IS NULL
    GROUP BY {{ group_key }}
    HAVING count(*) > 1
),
candidates AS MATERIALIZED (
    SELECT *, ROW({{ content }}) AS content
    FROM {{ stage }}
    WHERE reason IS NULL AND bin IS NULL
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
    WINDOW same_row AS (PARTITION BY row_hash, content ORDER BY file_no, source_row)
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
keyed AS (
    SELECT
        v.file_no,
        v.source_row,
        v.content,
        row_number() OVER same_key AS row_in_key,
        first_value(v.file_no) OVER same_key AS first_file,
        first_value(v.source_row) OVER same_key AS first_row,
        first_value(v.content) OVER same_key AS first_content
    FROM candidates AS v
    WHERE $has_key
        AND NOT EXISTS (
            SELECT 1 FROM duplicates AS d WHERE d.file_no = v.file_no AND d.source_row = v.source_row
        )
    WINDOW same_key AS (PARTITION BY {{ key }} ORDER BY v.file_no, v.source_row)
),
conflicts AS (
    SELECT
        file_no,
        source_row,
        CASE WHEN content IS NOT DISTINCT FROM first_content THEN 'duplicate_row' ELSE $key_reason END AS reason,
        CASE WHEN content IS NOT DISTINCT FROM first_content THEN NULL ELSE $key_column END AS reason_column,
        CASE
            WHEN content IS NOT DISTINCT FROM first_content THEN 'same content as row ' || first_row
            ELSE $key_label || ' already read at row ' || first_row
        END
        || CASE WHEN first_file <> file_no THEN ' of file ' || first_file ELSE '' END
        || CASE
            WHEN content IS NOT DISTINCT FROM first_content THEN '; the first row is kept'
            ELSE ' with different content; the first row is kept'
        END AS detail
    FROM keyed
    WHERE row_in_key > 1
)
SELECT * FROM duplicates
UNION ALL
SELECT * FROM conflicts
