-- Experiment assignments before outcomes (crmlib.experiments experiment_outcomes): one row per
-- experiment_id of {{ assignments }} (rows without a customer_id ignored), ordered by it:
--   n_customers: distinct customers assigned;
--   n_multiple_variants: customers assigned to more than one distinct variant (excluded from the
--   outcomes);
--   n_after_as_of / first_after_as_of: assignment rows with assigned_ts >= $end_ts (midnight
--   after the as_of day) and the earliest of them (the caller refuses any);
--   n_missing_ts: assignment rows without an assigned_ts (the caller refuses any).
-- Parameters: $end_ts.
WITH per_customer AS (
    SELECT
        experiment_id,
        customer_id,
        CASE WHEN min(variant) = max(variant) THEN 0 ELSE 1 END AS multiple_variants,
        sum(CASE WHEN assigned_ts >= $end_ts THEN 1 ELSE 0 END) AS n_after_as_of,
        min(CASE WHEN assigned_ts >= $end_ts THEN assigned_ts END) AS first_after_as_of,
        sum(CASE WHEN assigned_ts IS NULL THEN 1 ELSE 0 END) AS n_missing_ts
    FROM {{ assignments }}
    WHERE customer_id IS NOT NULL
    GROUP BY experiment_id, customer_id
)
SELECT
    CAST(experiment_id AS VARCHAR) AS experiment_id,
    CAST(count(*) AS BIGINT) AS n_customers,
    CAST(sum(multiple_variants) AS BIGINT) AS n_multiple_variants,
    CAST(sum(n_after_as_of) AS BIGINT) AS n_after_as_of,
    min(first_after_as_of) AS first_after_as_of,
    CAST(sum(n_missing_ts) AS BIGINT) AS n_missing_ts
FROM per_customer
GROUP BY experiment_id
ORDER BY experiment_id;
