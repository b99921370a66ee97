-- Gaps between a customer's consecutive purchase days (crmlib.churn churn_features, via
-- churn_tables once for every cutoff): a temporary table {{ target }} with one row per day with
-- a purchase before $gaps_end except each customer's first: customer_key, day and gap_days (days
-- since the previous day with a purchase, > 0).
-- Reads {{ customer_days }} (crmlib.facts: customer_key, day, purchases).
-- A day's gap depends only on earlier days, so the gaps of any earlier cutoff are the rows with
-- day before that cutoff's end: one window pass serves the three cutoffs of 06.
CREATE OR REPLACE TEMPORARY TABLE {{ target }} AS
SELECT customer_key, day, gap_days
FROM (
    SELECT
        customer_key,
        day,
        CAST(date_diff('day', lag(day) OVER (PARTITION BY customer_key ORDER BY day), day)
            AS DOUBLE) AS gap_days
    FROM {{ customer_days }}
    WHERE purchases > 0 AND day < $gaps_end
) AS gaps
WHERE gap_days > 0;
