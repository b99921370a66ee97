-- Cohort member labels (crmlib.cohorts): one row per member of {{ members }} with the member's
-- value of every dimension of the split, in temp table {{ labels }} (customer_key, cohort_start,
-- first_date, dim_0, dim_1, ...). Built once, so the per-dimension counts group this table
-- instead of joining the members and the customers again for every dimension.
-- Reads {{ members }} (customer_key, customer_id, cohort_start, first_date, first_category) and
-- {{ customers }} (customer_id and the dimension columns, or an empty relation when no dimension
-- needs it).
-- {{ label_columns }}: one validated expression per dimension, "<expression> AS dim_<i>" (the
-- quoted literal 'all', coalesce(nullif(CAST(c.column AS VARCHAR), ''), '(unknown)'), or the
-- same over m.first_category).
CREATE OR REPLACE TEMP TABLE {{ labels }} AS
SELECT
    m.customer_key,
    m.cohort_start,
    m.first_date,
    {{ label_columns }}
FROM {{ members }} AS m
LEFT JOIN {{ customers }} AS c ON c.customer_id = m.customer_id;
