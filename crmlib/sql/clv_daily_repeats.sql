-- Daily repeat purchases (crmlib.clv cumulative tracking): one row per calendar day up to
-- $end_day with at least one repeat purchase, counted as the customer summary counts frequency
-- at unit day: a customer's purchase days after the first purchase day, each day once per
-- customer (several orders of one customer on one day are one repeat purchase).
-- Only customers whose first purchase day is on or before $cohort_end count (the cohort the
-- calibration model describes).
-- Reads the shared purchase facts (crmlib.facts): {{ customer_days }} (customer_key, day,
-- purchases; a day with purchases > 0 is a purchase day) and {{ customer_facts }}
-- (customer_key, first_purchase_day: the first purchase day of the whole history, which is the
-- first up to $end_day of every customer with a purchase day up to $end_day).
-- Parameters: $end_day (the observation end), $cohort_end (DATE).
SELECT d.day AS date, CAST(count(*) AS BIGINT) AS repeat_purchases
FROM {{ customer_days }} AS d
JOIN {{ customer_facts }} AS f ON f.customer_key = d.customer_key
WHERE d.purchases > 0
    AND d.day <= $end_day
    AND d.day > f.first_purchase_day
    AND f.first_purchase_day <= $cohort_end
GROUP BY d.day
ORDER BY d.day
