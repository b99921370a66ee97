-- Satisfaction by group (crmlib.kpis.satisfaction_by_group): one row per group, and per period of
-- response when $by_period = 1, of the respondents to one survey type.
-- Reads {{ surveys }}: customer_id, response_ts, survey, score; {{ groups }}: customer_id,
-- group_label (at most one row per customer; a respondent without one is in $unknown_label).
-- Parameters: $survey ('nps' | 'csat'), $period, $by_period (1: split by the period of the
-- response; 0: one period), $start_ts and $end_ts (responses with start <= response_ts < end),
-- $unknown_label.
-- A customer counts once per period: their latest response of that survey type in it (ties
-- at the same second: the lower score). NPS: promoters 9-10, passives 7-8, detractors 0-6;
-- CSAT: top-two-box 4-5. score_sum and score_squares give the mean score and its variance.
WITH responses AS (
    SELECT
        customer_id,
        response_ts,
        score,
        CASE
            WHEN $by_period = 1 THEN CAST(date_trunc($period, response_ts) AS DATE)
            ELSE DATE '1900-01-01'
        END AS period_start
    FROM {{ surveys }}
    WHERE survey = $survey AND response_ts >= $start_ts AND response_ts < $end_ts
        AND customer_id IS NOT NULL AND score IS NOT NULL
),
latest AS (
    SELECT customer_id, period_start, score
    FROM responses
    QUALIFY row_number() OVER (
        PARTITION BY customer_id, period_start ORDER BY response_ts DESC, score ASC
    ) = 1
)
SELECT
    l.period_start,
    coalesce(g.group_label, $unknown_label) AS group_label,
    count(*) AS respondents,
    CAST(sum(CASE WHEN l.score >= 9 THEN 1 ELSE 0 END) AS BIGINT) AS promoters,
    CAST(sum(CASE WHEN l.score IN (7, 8) THEN 1 ELSE 0 END) AS BIGINT) AS passives,
    CAST(sum(CASE WHEN l.score <= 6 THEN 1 ELSE 0 END) AS BIGINT) AS detractors,
    CAST(sum(CASE WHEN l.score >= 4 THEN 1 ELSE 0 END) AS BIGINT) AS top_two,
    CAST(sum(CAST(l.score AS DOUBLE)) AS DOUBLE) AS score_sum,
    CAST(sum(CAST(l.score AS DOUBLE) * CAST(l.score AS DOUBLE)) AS DOUBLE) AS score_squares
FROM latest AS l
LEFT JOIN {{ groups }} AS g ON g.customer_id = l.customer_id
GROUP BY l.period_start, coalesce(g.group_label, $unknown_label)
ORDER BY period_start, group_label
