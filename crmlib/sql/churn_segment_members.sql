-- Retention by RFM segment, step 1 (crmlib.churn.trend.churn_by_segment): temp table {{ target }}
-- with one row per period p of {{ cutoffs }} and customer in its base (a purchase in the
-- period before, p-1): period_start (p), customer_key, segment (the customer's RFM segment at
-- the end of p-1, scored as 04_segments scores at that date), retained (1 when the customer
-- buys again in p, else 0). The customer ids never leave the engine.
-- Reads {{ customer_days }} (crmlib.facts: customer_key, day, purchases, amount; one row per
-- customer and calendar day), {{ cutoffs }} (one row per period p, all DATE: period_start,
-- period_end of p; previous_start, the first day of p-1; cutoff, its last day; window_start,
-- cutoff + 1 - the RFM window in days) and {{ segment_map }} (r_score, f_score, m_score,
-- segment: the rule table's segment of every score cell).
-- RFM at a cutoff, as crmlib.segments.queries.rfm.rfm_features and
-- crmlib.segments.models.rfm.rfm_scores (segments_rfm_features.sql) define them: every customer
-- with a purchase on or before the cutoff; recency_days = cutoff - the last purchase day;
-- frequency = purchases and monetary = net amount rounded to cents on the days
-- window_start <= day <= cutoff; score = 1 + floor(bins * customers strictly worse / customers),
-- recency over everyone (more days = worse), frequency and monetary over the customers with a
-- purchase in the window (the others score 1 and 1).
-- Each purchase day carries the next one (lead), so the customer's last purchase on or before
-- a cutoff is the one purchase day with day <= cutoff < next day: one range join, no running
-- sums. The base is the customers whose last purchase at the end of p-1 falls in p-1; retained
-- is a next purchase day within p.
-- Parameters: $end_day (the day after as_of_date: later days are not read), $bins (INTEGER).
CREATE OR REPLACE TEMP TABLE {{ target }} AS
WITH purchase_days AS (
    SELECT
        customer_key,
        day,
        lead(day, 1) OVER (PARTITION BY customer_key ORDER BY day) AS next_day
    FROM {{ customer_days }}
    WHERE purchases > 0 AND day < $end_day
),
standing AS (
    SELECT
        k.period_start,
        p.customer_key,
        CAST(date_diff('day', p.day, k.cutoff) AS BIGINT) AS recency_days,
        CASE WHEN p.day >= k.previous_start THEN 1 ELSE 0 END AS in_base,
        CASE WHEN p.next_day <= k.period_end THEN 1 ELSE 0 END AS retained
    FROM purchase_days AS p
    JOIN {{ cutoffs }} AS k
        ON p.day <= k.cutoff AND coalesce(p.next_day, $end_day) > k.cutoff
),
windowed AS (
    SELECT
        k.period_start,
        d.customer_key,
        CAST(sum(d.purchases) AS BIGINT) AS frequency,
        CAST(round(sum(CAST(d.amount AS DECIMAL(18, 6))), 2) AS DOUBLE) AS monetary
    FROM {{ customer_days }} AS d
    JOIN {{ cutoffs }} AS k
        ON d.day >= k.window_start AND d.day <= k.cutoff
    GROUP BY k.period_start, d.customer_key
),
features AS (
    SELECT
        s.period_start,
        s.customer_key,
        s.recency_days,
        s.in_base,
        s.retained,
        coalesce(w.frequency, 0) AS frequency,
        coalesce(w.monetary, 0.0) AS monetary,
        CASE WHEN coalesce(w.frequency, 0) > 0 THEN 1 ELSE 0 END AS bought
    FROM standing AS s
    LEFT JOIN windowed AS w
        ON w.period_start = s.period_start AND w.customer_key = s.customer_key
),
ranked AS (
    SELECT
        period_start,
        customer_key,
        in_base,
        retained,
        bought,
        rank() OVER (PARTITION BY period_start ORDER BY recency_days DESC) - 1 AS r_worse,
        count(*) OVER (PARTITION BY period_start) AS r_n,
        rank() OVER (PARTITION BY period_start, bought ORDER BY frequency) - 1 AS f_worse,
        rank() OVER (PARTITION BY period_start, bought ORDER BY monetary) - 1 AS m_worse,
        count(*) OVER (PARTITION BY period_start, bought) AS fm_n
    FROM features
),
scored AS (
    SELECT
        period_start,
        customer_key,
        in_base,
        retained,
        CAST(1 + floor(CAST($bins * r_worse AS DOUBLE) / CAST(r_n AS DOUBLE)) AS BIGINT) AS r_score,
        CASE
            WHEN bought = 1
                THEN CAST(1 + floor(CAST($bins * f_worse AS DOUBLE) / CAST(fm_n AS DOUBLE)) AS BIGINT)
            ELSE 1
        END AS f_score,
        CASE
            WHEN bought = 1
                THEN CAST(1 + floor(CAST($bins * m_worse AS DOUBLE) / CAST(fm_n AS DOUBLE)) AS BIGINT)
            ELSE 1
        END AS m_score
    FROM ranked
)
SELECT
    s.period_start,
    s.customer_key,
    m.segment,
    CAST(s.retained AS INTEGER) AS retained
FROM scored AS s
JOIN {{ segment_map }} AS m
    ON m.r_score = s.r_score AND m.f_score = s.f_score AND m.m_score = s.m_score
WHERE s.in_base = 1;
