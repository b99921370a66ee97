-- Early first-order cohorts (crmlib.cohorts.data_start): one row per cohort (the $period of the
-- customer's first purchase) among the purchases dated before $cutoff_ts, with its size and what
-- customers.signup_ts says about its members.
-- Reads {{ customer_facts }} (crmlib.facts: customer_id, first_purchase_ts) and {{ customers }}
-- (customer_id, signup_ts; or an empty relation with those columns when the run has no signup
-- dates).
-- Parameters: $period, $cutoff_ts (the end of the early cohorts: no later than the end of the
-- last complete period), $data_start_ts (midnight of the data's first day).
-- The members of every cohort that starts before $cutoff_ts are the customers whose first
-- purchase is before $cutoff_ts.
-- signed_up_before: members whose signup_ts is earlier than their cohort's period start, and for
-- the first period never earlier than the data's first day (greatest): a member of the first
-- cohort who signed up before the data begin may have bought before them, unseen.
-- signed_up_before_data: members whose signup_ts is earlier than the data's first day (in a later
-- cohort: customers who were already there, first seen buying later).
WITH firsts AS (
    SELECT customer_id, first_purchase_ts AS first_ts
    FROM {{ customer_facts }}
    WHERE first_purchase_ts < $cutoff_ts
),
signups AS (
    SELECT customer_id, min(signup_ts) AS signup_ts
    FROM {{ customers }}
    WHERE customer_id IS NOT NULL AND signup_ts IS NOT NULL
    GROUP BY customer_id
),
members AS (
    SELECT
        CAST(date_trunc($period, f.first_ts) AS DATE) AS cohort_start,
        s.signup_ts
    FROM firsts AS f
    LEFT JOIN signups AS s ON s.customer_id = f.customer_id
)
SELECT
    cohort_start,
    CAST(count(*) AS BIGINT) AS customers,
    CAST(count(signup_ts) AS BIGINT) AS with_signup,
    CAST(
        sum(
            CASE
                WHEN signup_ts < greatest(CAST(cohort_start AS TIMESTAMP), $data_start_ts) THEN 1
                ELSE 0
            END
        ) AS BIGINT
    ) AS signed_up_before,
    CAST(sum(CASE WHEN signup_ts < $data_start_ts THEN 1 ELSE 0 END) AS BIGINT)
        AS signed_up_before_data
FROM members
GROUP BY cohort_start
ORDER BY cohort_start
