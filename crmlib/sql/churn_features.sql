-- Churn feature table at a cutoff (crmlib.churn churn_features): one row per customer active at
-- the cutoff, i.e. with a purchase (is_purchase) in $lookback_start <= order_ts < $end_ts
-- ($end_ts = midnight after the cutoff day), ordered by customer_key (= by customer_id).
-- Reads the shared purchase facts (crmlib.facts): {{ customer_days }} (customer_key, day,
-- purchases, amount, gross_amount, refund_amount) and {{ customer_facts }} (customer_key,
-- customer_id); {{ purchase_gaps }} (crmlib/sql/churn_purchase_gaps.sql: the positive gaps
-- between purchase days, for this or a later cutoff); {{ transactions }} (customer_id, order_ts,
-- category, is_purchase: categories only), {{ events }} (customer_id, event_ts, event_type) and
-- {{ customers }} (customer_id, acquisition_channel, region, birth_year, email_opt_in,
-- sms_opt_in, push_opt_in, loyalty_tier); an empty relation stands in for a missing events or
-- customers table.
-- Every window starts and ends at a midnight, so it holds whole calendar days: a customer-day
-- counts in it when its day does (DuckDB and Spark compare a DATE with a TIMESTAMP at the day's
-- midnight). Features read only days before $end_ts; only `churned` reads the label window
-- $end_ts <= day < $label_end ($label_end = $end_ts reads nothing: no label asked).
-- customer_days.purchases counts purchase orders (the canonical table holds one row per order,
-- its refunds netted in, plus one row per unmatched refund).
--   recency_days / tenure_days: $cutoff - the last / first day with a purchase;
--   placeholder window_aggregates (written by crmlib.churn): per window N, orders_{N}d =
--   purchases on days >= $start_{N}d, spend_{N}d = net amount of every row there;
--   orders_total, spend_total: the same over all history; spend is summed exactly (DECIMAL to the
--   millionth, as ingest keeps money) and rounded to cents, so equal spend compares equal and a
--   half cent rounds the same way whatever order a parallel sum adds in, on any engine;
--   orders_trend_90d / spend_trend_90d: [$trend_split, $end_ts) minus [$trend_start, $trend_split);
--   return_share: sum |refund_amount| / sum gross_amount over every row of the lookback window,
--   0 when the gross is 0 (|.|: either refund sign convention);
--   category_count: distinct non-null categories of the purchases in the lookback window;
--   mean_gap_days / sd_gap_days: mean and sample sd of the days between consecutive distinct
--   purchase days (NULL with < 2 resp. < 3 purchase days); recency_gap_ratio = recency_days /
--   mean_gap_days (NULL when the mean is NULL or 0);
--   placeholders engagement_aggregates / engagement_columns: per window N, sends_{N}d,
--   opens_{N}d, clicks_{N}d, unsubscribes_{N}d = events of type sent / open / click /
--   unsubscribe (every channel) with $engagement_{N}d <= event_ts; rate_sends / rate_opens the
--   same over [$rate_start, $end_ts); unsubscribed_ever = 1 with an unsubscribe before $end_ts;
--   NULL for a customer without events (the caller fills 0, or NaN without an events table);
--   customer attributes as stored, opt-ins as 1.0 / 0.0 (NULL unknown); a customer without a
--   customers row gets NULLs; a repeated customers.customer_id repeats the row (the caller
--   refuses that).
-- One GROUP BY customer over the customer-days (conditional aggregates), one over the events,
-- distinct (customer, category) pairs of the lookback window only (cheaper than a
-- count(DISTINCT) over all history); the per-customer results are joined. The result also
-- carries customer_key.
-- Parameters: $cutoff (DATE), $end_ts, $lookback_start, $trend_split ($end_ts - 90 days),
-- $trend_start ($end_ts - 180 days), $start_{N}d and $engagement_{N}d ($end_ts - N days),
-- $rate_start ($end_ts - 90 days), $label_end ($end_ts + horizon_days, or $end_ts).
WITH per_customer AS (
    SELECT
        customer_key,
        CAST(date_diff('day', max(CASE WHEN purchases > 0 THEN day END), $cutoff) AS DOUBLE)
            AS recency_days,
        CAST(date_diff('day', min(CASE WHEN purchases > 0 THEN day END), $cutoff) AS DOUBLE)
            AS tenure_days,
        {{ window_aggregates }}
        CAST(sum(purchases) AS DOUBLE) AS orders_total,
        CAST(round(sum(CAST(amount AS DECIMAL(18, 6))), 2) AS DOUBLE) AS spend_total,
        CAST(
            sum(CASE WHEN day >= $trend_split THEN purchases ELSE 0 END)
            - sum(CASE WHEN day >= $trend_start AND day < $trend_split THEN purchases ELSE 0 END)
            AS DOUBLE
        ) AS orders_trend_90d,
        CAST(
            round(
                round(
                    sum(CASE WHEN day >= $trend_split THEN CAST(amount AS DECIMAL(18, 6)) ELSE 0 END),
                    2
                )
                - round(
                    sum(
                        CASE WHEN day >= $trend_start AND day < $trend_split
                            THEN CAST(amount AS DECIMAL(18, 6)) ELSE 0 END
                    ),
                    2
                ),
                2
            ) AS DOUBLE
        ) AS spend_trend_90d,
        coalesce(
            CAST(sum(CASE WHEN day >= $lookback_start THEN refund_amount ELSE 0.0 END) AS DOUBLE)
            / nullif(
                CAST(sum(CASE WHEN day >= $lookback_start THEN gross_amount ELSE 0.0 END)
                    AS DOUBLE),
                0.0
            ),
            0.0
        ) AS return_share
    FROM {{ customer_days }}
    WHERE day < $end_ts
    GROUP BY customer_key
    HAVING max(CASE WHEN purchases > 0 AND day >= $lookback_start THEN 1 ELSE 0 END) = 1
),
active AS (
    SELECT f.customer_id, p.*
    FROM per_customer AS p
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
gap_stats AS (
    SELECT customer_key, avg(gap_days) AS mean_gap_days, stddev_samp(gap_days) AS sd_gap_days
    FROM {{ purchase_gaps }}
    WHERE day < $end_ts
    GROUP BY customer_key
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
),
label_buyers AS (
    SELECT DISTINCT customer_key
    FROM {{ customer_days }}
    WHERE purchases > 0 AND day >= $end_ts AND day < $label_end
)
SELECT
    p.*,
    coalesce(k.category_count, 0.0) AS category_count,
    g.mean_gap_days,
    g.sd_gap_days,
    p.recency_days / nullif(g.mean_gap_days, 0.0) AS recency_gap_ratio,
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
    CAST(c.loyalty_tier AS VARCHAR) AS loyalty_tier,
    b.customer_key IS NULL AS churned
FROM active AS p
LEFT JOIN categories AS k ON k.customer_id = p.customer_id
LEFT JOIN gap_stats AS g ON g.customer_key = p.customer_key
LEFT JOIN engagement AS e ON e.customer_id = p.customer_id
LEFT JOIN {{ customers }} AS c ON c.customer_id = p.customer_id
LEFT JOIN label_buyers AS b ON b.customer_key = p.customer_key
ORDER BY p.customer_key;
