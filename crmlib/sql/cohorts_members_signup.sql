-- Cohort members by signup date (crmlib.cohorts.cohort_retention, cohort_basis="signup"): one
-- row per customer of {{ customers }} with signup_ts before $end_ts, in temp table {{ members }};
-- customers without a signup date are not in any cohort.
-- Reads {{ customers }}: customer_id, signup_ts; {{ firsts }} (customer_id, first_ts,
-- first_category: cohorts_firsts.sql or cohorts_firsts_from_periods.sql). Parameters: $period,
-- $end_ts.
-- first_date / first_category describe the first purchase ever (null for members who never bought).
CREATE OR REPLACE TEMP TABLE {{ members }} AS
WITH signed_up AS (
    SELECT customer_id, min(signup_ts) AS signup_ts
    FROM {{ customers }}
    WHERE customer_id IS NOT NULL AND signup_ts IS NOT NULL AND signup_ts < $end_ts
    GROUP BY customer_id
)
SELECT
    s.customer_id,
    CAST(date_trunc($period, s.signup_ts) AS DATE) AS cohort_start,
    CAST(f.first_ts AS DATE) AS first_date,
    CAST(f.first_category AS VARCHAR) AS first_category
FROM signed_up AS s
LEFT JOIN {{ firsts }} AS f ON f.customer_id = s.customer_id;
