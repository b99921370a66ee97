-- Cohort members by signup date (crmlib.cohorts.cohort_retention, cohort_basis="signup"): one
-- row per customer of {{ customers }} with signup_ts before $end_ts, in temp table {{ members }}
-- (customer_key, customer_id, cohort_start, first_date, first_category); customers without a
-- signup date are not in any cohort.
-- Reads {{ customers }}: customer_id, signup_ts; {{ customer_facts }} (crmlib.facts:
-- customer_key, customer_id), for the key of every member with a transaction row (null for
-- members without any); {{ firsts }} (customer_key, first_ts, first_category:
-- cohorts_firsts.sql or cohorts_firsts_category.sql). Parameters: $period, $end_ts.
-- first_date / first_category describe the first purchase ever (null for members who never bought).
CREATE OR REPLACE TEMP TABLE {{ members }} AS
WITH signed_up AS (
    SELECT customer_id, min(signup_ts) AS signup_ts
    FROM {{ customers }}
    WHERE customer_id IS NOT NULL AND signup_ts IS NOT NULL AND signup_ts < $end_ts
    GROUP BY customer_id
)
SELECT
    k.customer_key,
    s.customer_id,
    CAST(date_trunc($period, s.signup_ts) AS DATE) AS cohort_start,
    CAST(f.first_ts AS DATE) AS first_date,
    CAST(f.first_category AS VARCHAR) AS first_category
FROM signed_up AS s
LEFT JOIN {{ customer_facts }} AS k ON k.customer_id = s.customer_id
LEFT JOIN {{ firsts }} AS f ON f.customer_key = k.customer_key;
