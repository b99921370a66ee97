-- Early signup cohorts (crmlib.cohorts.data_start, cohort_basis="signup"): one row per cohort
-- (the $period of customers.signup_ts) among the signups dated before $cutoff_ts, with its size,
-- in the columns of cohorts_start_first_order.sql: with_signup = customers, signed_up_before = 0
-- (unused with this basis), signed_up_before_data = members who signed up before the data's first
-- day (all of a cohort whose period ends before it; some of the cohort whose period holds it).
-- Reads {{ customers }}: customer_id, signup_ts. Parameters: $period, $cutoff_ts, $data_start_ts.
-- Customers without a signup date are in no cohort (as in cohorts_members_signup.sql).
WITH signed_up AS (
    SELECT customer_id, min(signup_ts) AS signup_ts
    FROM {{ customers }}
    WHERE customer_id IS NOT NULL AND signup_ts IS NOT NULL
    GROUP BY customer_id
)
SELECT
    CAST(date_trunc($period, signup_ts) AS DATE) AS cohort_start,
    CAST(count(*) AS BIGINT) AS customers,
    CAST(count(*) AS BIGINT) AS with_signup,
    CAST(0 AS BIGINT) AS signed_up_before,
    CAST(sum(CASE WHEN signup_ts < $data_start_ts THEN 1 ELSE 0 END) AS BIGINT)
        AS signed_up_before_data
FROM signed_up
WHERE signup_ts < $cutoff_ts
GROUP BY CAST(date_trunc($period, signup_ts) AS DATE)
ORDER BY cohort_start
