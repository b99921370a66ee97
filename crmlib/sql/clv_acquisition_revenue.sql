-- Realized net revenue of each acquisition cohort by month (crmlib.clv.cohort_revenue): one row
-- per (channel, cohort month, month) with revenue, from the cohort's first month on.
-- Reads {{ customer_days }}: customer_key, day, amount; {{ customer_facts }}: customer_key,
-- customer_id, first_purchase_day (crmlib.facts); {{ customers }}: customer_id,
-- acquisition_channel.
-- Parameters: $end_day (the day after as_of_date).
-- A cohort is the customers whose first purchase is in one month, by acquisition channel
-- (NULL or empty: '(unknown)'); revenue is the net amount of every row (purchases, refunds)
-- dated from the first purchase day to as_of_date.
SELECT
    coalesce(nullif(CAST(c.acquisition_channel AS VARCHAR), ''), '(unknown)') AS channel,
    CAST(date_trunc('month', f.first_purchase_day) AS DATE) AS cohort_month,
    CAST(date_trunc('month', d.day) AS DATE) AS month_start,
    CAST(sum(d.amount) AS DOUBLE) AS revenue
FROM {{ customer_days }} AS d
JOIN {{ customer_facts }} AS f ON f.customer_key = d.customer_key
LEFT JOIN {{ customers }} AS c ON c.customer_id = f.customer_id
WHERE f.first_purchase_day IS NOT NULL AND f.first_purchase_day < $end_day
    AND d.day >= f.first_purchase_day AND d.day < $end_day
GROUP BY 1, 2, 3
ORDER BY channel, cohort_month, month_start
