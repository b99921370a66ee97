-- Daily repeat purchases (crmlib.clv cumulative tracking): one row per calendar day up to $end
-- (exclusive) with at least one repeat purchase, counted as the customer summary counts
-- frequency at unit day: a customer's purchase days after the first purchase day, each day once
-- per customer (several orders of one customer on one day are one repeat purchase).
-- Only customers whose first purchase day is on or before $cohort_end count (the cohort the
-- calibration model describes). Reads {{ transactions }}: customer_id, order_ts, is_purchase.
-- Parameters: $end, $cohort_end (a date).
WITH days AS (
    SELECT DISTINCT customer_id, CAST(order_ts AS DATE) AS purchase_date
    FROM {{ transactions }}
    WHERE is_purchase AND customer_id IS NOT NULL AND order_ts < $end
),
firsts AS (
    SELECT customer_id, min(purchase_date) AS first_date
    FROM days
    GROUP BY customer_id
    HAVING min(purchase_date) <= $cohort_end
)
SELECT d.purchase_date AS date, CAST(count(*) AS BIGINT) AS repeat_purchases
FROM days AS d
JOIN firsts AS f ON f.customer_id = d.customer_id
WHERE d.purchase_date > f.first_date
GROUP BY d.purchase_date
ORDER BY d.purchase_date
