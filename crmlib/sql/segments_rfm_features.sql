-- RFM features at one date (crmlib.segments.queries.rfm.rfm_features): one row per customer with at least
-- one purchase (is_purchase) before $end_ts, lapsed customers included, ordered by customer_id.
-- Reads {{ transactions }} (customer_id, order_ts, amount, is_purchase). The canonical table
-- holds one row per order (its refunds netted in) plus one row per unmatched refund, so a count
-- of purchase rows is a count of distinct purchase orders.
--   first_order_date, last_order_date: calendar day of the first and last purchase;
--   recency_days = $as_of - last_order_date; tenure_days = $as_of - first_order_date (days);
--   frequency: purchases with $window_start <= order_ts < $end_ts;
--   monetary: net sum of amount over every row in that window (purchases, cancelled orders,
--   unmatched refunds), 0.0 when there is none; may be 0 or negative. Rounded to cents like
--   the canonical amounts: a parallel sum adds in any order, and equal spend must compare
--   equal (ties share a score) whatever the order.
-- Parameters: $as_of (DATE), $end_ts (midnight after $as_of), $window_start ($end_ts minus the
-- window length in days).
WITH per_customer AS (
    SELECT
        customer_id,
        CAST(min(CASE WHEN is_purchase THEN order_ts END) AS DATE) AS first_order_date,
        CAST(max(CASE WHEN is_purchase THEN order_ts END) AS DATE) AS last_order_date,
        CAST(sum(CASE WHEN is_purchase AND order_ts >= $window_start THEN 1 ELSE 0 END) AS BIGINT)
            AS frequency,
        CAST(
            round(sum(CASE WHEN order_ts >= $window_start THEN amount ELSE 0.0 END), 2) AS DOUBLE
        ) AS monetary
    FROM {{ transactions }}
    WHERE order_ts < $end_ts
        AND customer_id IS NOT NULL
    GROUP BY customer_id
    HAVING sum(CASE WHEN is_purchase THEN 1 ELSE 0 END) > 0
)
SELECT
    customer_id,
    last_order_date,
    CAST(date_diff('day', last_order_date, $as_of) AS BIGINT) AS recency_days,
    frequency,
    monetary,
    first_order_date,
    CAST(date_diff('day', first_order_date, $as_of) AS BIGINT) AS tenure_days
FROM per_customer
ORDER BY customer_id;
