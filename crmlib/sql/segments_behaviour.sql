-- Behaviour features for clusters (crmlib.segments.behaviour_features): one row per customer with
-- at least one purchase (is_purchase) before $end_ts, ordered by customer_id. The canonical
-- table holds one row per order (its refunds netted in) plus one row per unmatched refund, so a
-- count of purchase rows is a count of distinct purchase orders.
--   recency_days = $as_of - calendar day of the last purchase;
--   frequency: purchases with $window_start_ts <= order_ts < $end_ts;
--   monetary: net sum of amount over every row in that window (purchases, cancelled orders,
--   unmatched refunds), 0.0 when there is none; may be 0 or negative;
--   tenure_days = $as_of - calendar day of the first purchase;
--   category_diversity: distinct non-null categories among the purchases in the window;
--   engagement: (open + click events) / sent events with $engagement_start_ts <= event_ts <
--   $end_ts; 0.0 for a customer without a send there.
-- Reads {{ transactions }} (customer_id, order_ts, amount, is_purchase, category) and
-- {{ events }} (customer_id, event_ts, event_type; an empty relation when there is no events table).
-- Parameters: $as_of (DATE), $end_ts (midnight after $as_of), $window_start_ts ($end_ts minus the
-- window length), $engagement_start_ts ($end_ts minus the engagement window length).
-- Aggregating by (customer, category) first, then by customer, counts the categories in one
-- pass without a DISTINCT aggregate (faster in DuckDB than count(DISTINCT category)).
WITH by_category AS (
    SELECT
        customer_id,
        category,
        min(CASE WHEN is_purchase THEN order_ts END) AS first_purchase_ts,
        max(CASE WHEN is_purchase THEN order_ts END) AS last_purchase_ts,
        sum(CASE WHEN is_purchase AND order_ts >= $window_start_ts THEN 1 ELSE 0 END) AS purchases,
        sum(CASE WHEN order_ts >= $window_start_ts THEN amount ELSE 0.0 END) AS amount
    FROM {{ transactions }}
    WHERE order_ts < $end_ts AND customer_id IS NOT NULL
    GROUP BY customer_id, category
),
activity AS (
    SELECT
        customer_id,
        CAST(min(first_purchase_ts) AS DATE) AS first_purchase_date,
        CAST(max(last_purchase_ts) AS DATE) AS last_purchase_date,
        sum(purchases) AS frequency,
        sum(amount) AS monetary,
        sum(CASE WHEN purchases > 0 AND category IS NOT NULL THEN 1 ELSE 0 END) AS category_diversity
    FROM by_category
    GROUP BY customer_id
    HAVING max(last_purchase_ts) IS NOT NULL
),
engagement AS (
    SELECT
        customer_id,
        sum(CASE WHEN event_type = 'sent' THEN 1 ELSE 0 END) AS sends,
        sum(CASE WHEN event_type IN ('open', 'click') THEN 1 ELSE 0 END) AS responses
    FROM {{ events }} AS ev
    WHERE event_ts >= $engagement_start_ts AND event_ts < $end_ts AND customer_id IS NOT NULL
    GROUP BY customer_id
)
SELECT
    a.customer_id,
    CAST(date_diff('day', a.last_purchase_date, $as_of) AS BIGINT) AS recency_days,
    CAST(a.frequency AS BIGINT) AS frequency,
    CAST(coalesce(a.monetary, 0.0) AS DOUBLE) AS monetary,
    CAST(date_diff('day', a.first_purchase_date, $as_of) AS BIGINT) AS tenure_days,
    CAST(a.category_diversity AS BIGINT) AS category_diversity,
    CASE
        WHEN coalesce(e.sends, 0) > 0 THEN CAST(e.responses AS DOUBLE) / CAST(e.sends AS DOUBLE)
        ELSE CAST(0.0 AS DOUBLE)
    END AS engagement
FROM activity AS a
LEFT JOIN engagement AS e ON e.customer_id = a.customer_id
ORDER BY a.customer_id
