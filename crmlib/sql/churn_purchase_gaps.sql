-- Gaps between a customer's consecutive purchase days (crmlib.churn churn_features, via
-- churn_tables once for every cutoff): a temporary table {{ target }} with one row per purchase
-- (is_purchase) before $gaps_end whose calendar day is later than the previous purchase's:
-- customer_id, order_ts and gap_days (days since that previous purchase day, > 0).
-- Reads {{ transactions }} (customer_id, order_ts, is_purchase).
-- A purchase's gap depends only on earlier purchases, so the gaps of any earlier cutoff are the
-- rows with order_ts before that cutoff's end: one window pass serves the three cutoffs of 06.
CREATE OR REPLACE TEMPORARY TABLE {{ target }} AS
SELECT customer_id, order_ts, gap_days
FROM (
    SELECT
        customer_id,
        order_ts,
        CAST(
            date_diff(
                'day',
                lag(CAST(order_ts AS DATE)) OVER (PARTITION BY customer_id ORDER BY order_ts),
                CAST(order_ts AS DATE)
            ) AS DOUBLE
        ) AS gap_days
    FROM {{ transactions }}
    WHERE is_purchase AND order_ts < $gaps_end AND customer_id IS NOT NULL
) AS gaps
WHERE gap_days > 0;
