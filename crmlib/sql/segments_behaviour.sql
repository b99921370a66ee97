-- Behaviour features for clusters (crmlib.segments.behaviour_features): one row per customer with
-- at least one purchase (is_purchase) on or before $as_of, ordered by customer_key (= by
-- customer_id).
-- Reads the shared purchase facts (crmlib.facts): {{ customer_days }} (customer_key, day,
-- purchases, amount: one row per customer and calendar day; purchases = purchase orders,
-- amount = net amount of every row that day) and {{ customer_facts }} (customer_key,
-- customer_id, first_purchase_day); {{ transactions }} (customer_id, order_ts, is_purchase,
-- category) for the categories, which the facts do not hold; {{ events }} (customer_id,
-- event_ts, event_type; an empty relation when there is no events table).
--   recency_days = $as_of - last day with a purchase;
--   frequency: purchases on the days $window_start <= day < $end_day;
--   monetary: net amount of every row on those days (purchases, cancelled orders, unmatched
--   refunds), 0.0 when there is none; may be 0 or negative;
--   tenure_days = $as_of - first day with a purchase (the customer's first_purchase_day);
--   category_diversity: distinct non-null categories among the purchases with
--   $window_start <= order_ts < $end_day, 0 when there is none;
--   engagement: (open + click events) / sent events with $engagement_start <= event_ts <
--   $end_day; 0.0 for a customer without a send there.
-- Parameters (DATE; a DATE compared with a timestamp is its midnight): $as_of, $end_day
-- ($as_of + 1 day), $window_start ($end_day minus the window length), $engagement_start
-- ($end_day minus the engagement window length).
WITH activity AS (
    SELECT
        customer_key,
        max(CASE WHEN purchases > 0 THEN day END) AS last_purchase_date,
        sum(CASE WHEN day >= $window_start THEN purchases ELSE 0 END) AS frequency,
        sum(CASE WHEN day >= $window_start THEN amount ELSE 0.0 END) AS monetary
    FROM {{ customer_days }}
    WHERE day < $end_day
    GROUP BY customer_key
    HAVING max(purchases) > 0
),
categories AS (
    SELECT customer_id, count(DISTINCT category) AS category_diversity
    FROM {{ transactions }}
    WHERE is_purchase
        AND order_ts >= $window_start
        AND order_ts < $end_day
        AND category IS NOT NULL
        AND customer_id IS NOT NULL
    GROUP BY customer_id
),
engagement AS (
    SELECT
        customer_id,
        sum(CASE WHEN event_type = 'sent' THEN 1 ELSE 0 END) AS sends,
        sum(CASE WHEN event_type IN ('open', 'click') THEN 1 ELSE 0 END) AS responses
    FROM {{ events }} AS ev
    WHERE event_ts >= $engagement_start AND event_ts < $end_day AND customer_id IS NOT NULL
    GROUP BY customer_id
)
SELECT
    f.customer_id,
    CAST(date_diff('day', a.last_purchase_date, $as_of) AS BIGINT) AS recency_days,
    CAST(a.frequency AS BIGINT) AS frequency,
    CAST(a.monetary AS DOUBLE) AS monetary,
    CAST(date_diff('day', f.first_purchase_day, $as_of) AS BIGINT) AS tenure_days,
    CAST(coalesce(c.category_diversity, 0) AS BIGINT) AS category_diversity,
    CASE
        WHEN coalesce(e.sends, 0) > 0 THEN CAST(e.responses AS DOUBLE) / CAST(e.sends AS DOUBLE)
        ELSE CAST(0.0 AS DOUBLE)
    END AS engagement
FROM activity AS a
JOIN {{ customer_facts }} AS f ON f.customer_key = a.customer_key
LEFT JOIN categories AS c ON c.customer_id = f.customer_id
LEFT JOIN engagement AS e ON e.customer_id = f.customer_id
ORDER BY a.customer_key
