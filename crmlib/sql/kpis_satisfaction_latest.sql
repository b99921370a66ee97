-- Each respondent's latest answer to one survey (crmlib.kpis.latest_responses): one row per
-- customer with a response of type $survey dated before $end_ts.
-- Reads {{ surveys }}: customer_id, response_ts, survey, score.
-- Parameters: $survey ('nps' | 'csat'), $end_ts (the day after as_of_date).
-- Latest = the last response_ts (ties at the same second: the lower score). nps_group is
-- 'promoter' (9-10), 'passive' (7-8) or 'detractor' (0-6) for NPS and NULL for CSAT.
SELECT
    customer_id,
    response_ts,
    score,
    CASE
        WHEN $survey <> 'nps' THEN CAST(NULL AS VARCHAR)
        WHEN score >= 9 THEN 'promoter'
        WHEN score >= 7 THEN 'passive'
        ELSE 'detractor'
    END AS nps_group
FROM {{ surveys }}
WHERE survey = $survey AND response_ts < $end_ts AND customer_id IS NOT NULL AND score IS NOT NULL
QUALIFY row_number() OVER (PARTITION BY customer_id ORDER BY response_ts DESC, score ASC) = 1
ORDER BY customer_id
