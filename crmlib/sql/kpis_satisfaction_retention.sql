-- Repeat purchase after an NPS answer (crmlib.kpis.retention_by_nps_group): one row per NPS group
-- of the respondents whose window of $window_seconds after their answer is fully observed.
-- Reads {{ surveys }}: customer_id, response_ts, survey, score; {{ transactions }}: customer_id,
-- order_ts, is_purchase.
-- Parameters: $end_ts (the day after as_of_date), $last_response_ts ($end_ts minus the window:
-- later answers are left out, their window is not over), $window_seconds.
-- Each customer counts once: their latest NPS answer dated before $last_response_ts (ties at the
-- same second: the lower score). They "bought again" when a purchase follows strictly after the
-- answer and at most $window_seconds later. The join reads only the respondents' purchases.
WITH latest AS (
    SELECT
        customer_id,
        response_ts,
        CASE WHEN score >= 9 THEN 'promoter' WHEN score >= 7 THEN 'passive' ELSE 'detractor' END
            AS nps_group
    FROM {{ surveys }}
    WHERE survey = 'nps' AND response_ts <= $last_response_ts AND response_ts < $end_ts
        AND customer_id IS NOT NULL AND score IS NOT NULL
    QUALIFY row_number() OVER (PARTITION BY customer_id ORDER BY response_ts DESC, score ASC) = 1
),
followed AS (
    SELECT
        l.customer_id,
        l.nps_group,
        max(CASE WHEN t.order_ts IS NULL THEN 0 ELSE 1 END) AS bought_again
    FROM latest AS l
    LEFT JOIN {{ transactions }} AS t
        ON t.customer_id = l.customer_id
        AND t.is_purchase
        AND t.order_ts > l.response_ts
        AND t.order_ts < $end_ts
        AND date_diff('second', l.response_ts, t.order_ts) <= $window_seconds
    GROUP BY l.customer_id, l.nps_group
)
SELECT
    nps_group,
    count(*) AS respondents,
    CAST(sum(bought_again) AS BIGINT) AS bought_again
FROM followed
GROUP BY nps_group
ORDER BY nps_group
