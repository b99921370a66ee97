-- RFM features at one date (crmlib.segments.queries.rfm.rfm_features): one row per customer with at
-- least one purchase (is_purchase) on or before $as_of, lapsed customers included, ordered by
-- customer_key (= by customer_id).
-- Reads the shared purchase facts (crmlib.facts): {{ customer_days }} (customer_key, day,
-- purchases, amount: one row per customer and calendar day) and {{ customer_facts }}
-- (customer_key, customer_id, first_purchase_day). Every window starts and ends at a midnight,
-- so the days read here are the transaction rows read before: purchases counts purchase
-- orders, amount is the day's net amount over every row.
--   first_order_date, last_order_date: first and last day with a purchase (the first is the
--   customer's first_purchase_day: a customer with a purchase on or before $as_of made their
--   first one then);
--   recency_days = $as_of - last_order_date; tenure_days = $as_of - first_order_date (days);
--   frequency: purchases on the days $window_start <= day < $end_day;
--   monetary: net amount of every row on those days (purchases, cancelled orders, unmatched
--   refunds), 0.0 when there is none; may be 0 or negative. Summed exactly (DECIMAL to the
--   millionth, as ingest keeps money) and rounded to cents: a parallel sum adds in any order,
--   and equal spend must compare equal (ties share a score), and a half cent round the same
--   way, whatever the order and the engine.
-- Parameters: $as_of (DATE), $end_day ($as_of + 1 day), $window_start ($end_day minus the
-- window length in days), all DATE.
WITH per_customer AS (
    SELECT
        customer_key,
        max(CASE WHEN purchases > 0 THEN day END) AS last_order_date,
        CAST(sum(CASE WHEN day >= $window_start THEN purchases ELSE 0 END) AS BIGINT)
            AS frequency,
        CAST(
            round(
                sum(CASE WHEN day >= $window_start THEN CAST(amount AS DECIMAL(18, 6)) ELSE 0 END),
                2
            ) AS DOUBLE
        ) AS monetary
    FROM {{ customer_days }}
    WHERE day < $end_day
    GROUP BY customer_key
    HAVING max(purchases) > 0
)
SELECT
    f.customer_id,
    p.last_order_date,
    CAST(date_diff('day', p.last_order_date, $as_of) AS BIGINT) AS recency_days,
    p.frequency,
    p.monetary,
    f.first_purchase_day AS first_order_date,
    CAST(date_diff('day', f.first_purchase_day, $as_of) AS BIGINT) AS tenure_days
FROM per_customer AS p
JOIN {{ customer_facts }} AS f ON f.customer_key = p.customer_key
ORDER BY p.customer_key;
