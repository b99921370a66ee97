-- The purchase half of the churn feature table at a cutoff (crmlib.churn.churn_features, first of
-- its two statements; the second is churn_features.sql): a temporary table {{ target }} with one
-- row per customer_key active at the cutoff, i.e. with a purchase in $lookback_start <= day <
-- $end_ts ($end_ts = midnight after the cutoff day): the purchase features, the gap statistics
-- and `churned`. Everything here is keyed by the integer customer_key, so the hash tables stay
-- small; the text-keyed parts (categories, events, customers) join in churn_features.sql, after
-- these have been built and their memory freed.
-- Reads the shared purchase facts (crmlib.facts): {{ customer_days }} (customer_key, day,
-- purchases, amount, gross_amount, refund_amount); {{ purchase_gaps }}
-- (crmlib/sql/churn_purchase_gaps.sql: the positive gaps between purchase days, for this or a
-- later cutoff).
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
--   mean_gap_days / sd_gap_days: mean and sample sd of the days between consecutive distinct
--   purchase days (NULL with < 2 resp. < 3 purchase days); recency_gap_ratio = recency_days /
--   mean_gap_days (NULL when the mean is NULL or 0);
--   churned: no purchase day in the label window.
-- Parameters: $cutoff (DATE), $end_ts, $lookback_start, $trend_split ($end_ts - 90 days),
-- $trend_start ($end_ts - 180 days), $start_{N}d ($end_ts - N days), $label_end ($end_ts +
-- horizon_days, or $end_ts).
CREATE OR REPLACE TEMPORARY TABLE {{ target }} AS
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
gap_stats AS (
    SELECT customer_key, avg(gap_days) AS mean_gap_days, stddev_samp(gap_days) AS sd_gap_days
    FROM {{ purchase_gaps }}
    WHERE day < $end_ts
    GROUP BY customer_key
),
label_buyers AS (
    SELECT DISTINCT customer_key
    FROM {{ customer_days }}
    WHERE purchases > 0 AND day >= $end_ts AND day < $label_end
)
SELECT
    p.*,
    g.mean_gap_days,
    g.sd_gap_days,
    p.recency_days / nullif(g.mean_gap_days, 0.0) AS recency_gap_ratio,
    b.customer_key IS NULL AS churned
FROM per_customer AS p
LEFT JOIN gap_stats AS g ON g.customer_key = p.customer_key
LEFT JOIN label_buyers AS b ON b.customer_key = p.customer_key;
