-- Fingerprint of the rows a cohort count grid reads (crmlib.cohorts): the row count and the sum
-- of one hash per row over {{ columns }} (a validated, quoted column list) of {{ table }}.
-- Equal fingerprints mean the same rows, so a cached grid can be reused; any changed, added or
-- removed row changes it (up to hash collisions).
SELECT
    CAST(count(*) AS BIGINT) AS row_count,
    CAST(sum(hash({{ columns }})) AS VARCHAR) AS row_hash
FROM {{ table }}
