-- Churn feature table at a cutoff (crmlib.churn.churn_features, second of its two statements):
-- one row per customer active at the cutoff, i.e. with a purchase (is_purchase) in
-- $lookback_start <= order_ts < $end_ts ($end_ts = midnight after the cutoff day), ordered by
-- customer_key (= by customer_id).
-- Reads {{ purchase_features }} (the temporary table churn_features_purchases.sql built for this
-- cutoff: customer_key, the purchase features, the gap statistics and churned, one row per
-- active customer), {{ customer_facts }} (crmlib.facts: customer_key, customer_id);
-- {{ transactions }} (customer_id, order_ts, category, is_purchase: categories only),
-- {{ events }} (customer_id, event_ts, event_type) and {{ customers }} (customer_id,
-- acquisition_channel, region, birth_year, email_opt_in, sms_opt_in, push_opt_in, loyalty_tier);
-- an empty relation stands in for a missing events or customers table.
-- Every window starts and ends at a midnight, so it holds whole calendar days; nothing dated at
-- or after $end_ts is read.
--   category_count: distinct non-null categories of the purchases in the lookback window;
--   placeholders engagement_aggregates / engagement_columns: per window N, sends_{N}d,
--   opens_{N}d, clicks_{N}d, unsubscribes_{N}d = events of type sent / open / click /
--   unsubscribe (every channel) with $engagement_{N}d <= event_ts; rate_sends / rate_opens the
--   same over [$rate_start, $end_ts); unsubscribed_ever = 1 with an unsubscribe before $end_ts;
--   NULL for a customer without events (the caller fills 0, or NaN without an events table);
--   customer attributes as stored, opt-ins as 1.0 / 0.0 (NULL unknown); a customer without a
--   customers row gets NULLs; a repeated customers.customer_id repeats the row (the caller
--   refuses that).
-- One GROUP BY customer over the events, distinct (customer, category) pairs of the lookback
-- window only (cheaper than a count(DISTINCT) over all history); the per-customer results are
-- joined to the purchase features. The result also carries customer_key.
-- Parameters: $end_ts, $lookback_start, $engagement_{N}d ($end_ts - N days), $rate_start
-- ($end_ts - 90 days).
WITH active AS (
    SELECT f.customer_id, p.*
    FROM {{ purchase_features }} AS p
    JOIN {{ customer_facts }} AS f ON f.customer_key = p.customer_key
),
categories AS (
    SELECT customer_id, CAST(count(*) AS DOUBLE) AS category_count
    FROM (
        SELECT DISTINCT customer_id, category
        FROM {{ transactions }}
        WHERE is_purchase AND order_ts >= $lookback_start AND order_ts < $end_ts
            AND customer_id IS NOT NULL AND category IS NOT NULL
    ) AS bought
    GROUP BY customer_id
),
engagement AS (
    SELECT
        customer_id,
        {{ engagement_aggregates }}
        CAST(sum(CASE WHEN event_type = 'sent' AND event_ts >= $rate_start THEN 1 ELSE 0 END)
            AS DOUBLE) AS rate_sends,
        CAST(sum(CASE WHEN event_type = 'open' AND event_ts >= $rate_start THEN 1 ELSE 0 END)
            AS DOUBLE) AS rate_opens,
        CAST(max(CASE WHEN event_type = 'unsubscribe' THEN 1 ELSE 0 END) AS DOUBLE)
            AS unsubscribed_ever
    FROM {{ events }}
    WHERE event_ts < $end_ts AND customer_id IS NOT NULL
    GROUP BY customer_id
)
SELECT
    p.*,
    coalesce(k.category_count, 0.0) AS category_count,
    {{ engagement_columns }}
    e.rate_sends,
    e.rate_opens,
    e.unsubscribed_ever,
    CAST(c.acquisition_channel AS VARCHAR) AS acquisition_channel,
    CAST(c.region AS VARCHAR) AS region,
    CAST(c.birth_year AS DOUBLE) AS birth_year,
    CAST(CAST(c.email_opt_in AS BOOLEAN) AS DOUBLE) AS email_opt_in,
    CAST(CAST(c.sms_opt_in AS BOOLEAN) AS DOUBLE) AS sms_opt_in,
    CAST(CAST(c.push_opt_in AS BOOLEAN) AS DOUBLE) AS push_opt_in,
    CAST(c.loyalty_tier AS VARCHAR) AS loyalty_tier
FROM active AS p
LEFT JOIN categories AS k ON k.customer_id = p.customer_id
LEFT JOIN engagement AS e ON e.customer_id = p.customer_id
LEFT JOIN {{ customers }} AS c ON c.customer_id = p.customer_id
ORDER BY p.customer_key;
