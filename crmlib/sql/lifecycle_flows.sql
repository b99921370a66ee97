-- Lifecycle accounting (crmlib.cohorts.lifecycle, transition_matrix): per period, customers by
-- lifecycle state and the flows between consecutive periods' states. One row per period in
-- which a state or flow is counted; periods without any are filled with zeros in pandas.
-- Reads {{ customer_days }} (crmlib.facts: customer_key, day, purchases).
-- Parameters: $period ('week' | 'month' | 'quarter'), $end_day (the day after as_of_date: days
-- before it count).
-- Only purchases (is_purchase) make a customer active: days with purchases > 0. From one row
-- per customer and active period (`activity`), lag() and lead() place every row without a
-- customer x period grid:
--   state of an active row: new (no earlier active period), current (active in the previous
--   period), resurrected (otherwise);
--   dormant: counted in the period after an active period when the customer is inactive then;
--   dormant -> lost: counted two periods after an active period followed by two inactive ones;
--   lost -> resurrected: an active row whose last active period is >= 3 periods back.
-- Lost -> lost needs the stock of lost customers, derived from these counts in pandas.
-- Only lag()/lead() windows: portable to Spark.
WITH activity AS (
    SELECT DISTINCT customer_key, CAST(date_trunc($period, day) AS DATE) AS period_start
    FROM {{ customer_days }}
    WHERE day < $end_day AND purchases > 0
),
stepped AS (
    SELECT
        customer_key,
        period_start,
        CAST(date_trunc($period, period_start - INTERVAL 1 DAY) AS DATE) AS previous_start,
        CAST(CASE $period
            WHEN 'week' THEN period_start + INTERVAL 7 DAY
            WHEN 'month' THEN period_start + INTERVAL 1 MONTH
            ELSE period_start + INTERVAL 3 MONTH
        END AS DATE) AS next_start,
        CAST(CASE $period
            WHEN 'week' THEN period_start + INTERVAL 14 DAY
            WHEN 'month' THEN period_start + INTERVAL 2 MONTH
            ELSE period_start + INTERVAL 6 MONTH
        END AS DATE) AS after_next_start,
        lag(period_start, 1) OVER (PARTITION BY customer_key ORDER BY period_start) AS last_active_start,
        lag(period_start, 2) OVER (PARTITION BY customer_key ORDER BY period_start) AS active_start_before_last,
        lead(period_start, 1) OVER (PARTITION BY customer_key ORDER BY period_start) AS next_active_start
    FROM activity
),
classified AS (
    SELECT
        *,
        CAST(date_trunc($period, previous_start - INTERVAL 1 DAY) AS DATE) AS second_previous_start,
        CASE
            WHEN last_active_start IS NULL THEN 'new'
            WHEN last_active_start = previous_start THEN 'current'
            ELSE 'resurrected'
        END AS state
    FROM stepped
),
with_previous_state AS (
    SELECT
        *,
        -- the state of the customer's previous active row (meaningful when it is t-1)
        CASE
            WHEN last_active_start IS NULL THEN NULL
            WHEN active_start_before_last IS NULL THEN 'new'
            WHEN active_start_before_last
                = CAST(date_trunc($period, last_active_start - INTERVAL 1 DAY) AS DATE) THEN 'current'
            ELSE 'resurrected'
        END AS previous_state
    FROM classified
),
counted_now AS (
    SELECT
        period_start,
        count(*) AS active,
        CAST(sum(CASE WHEN state = 'new' THEN 1 ELSE 0 END) AS BIGINT) AS new,
        CAST(sum(CASE WHEN state = 'current' THEN 1 ELSE 0 END) AS BIGINT) AS current,
        CAST(sum(CASE WHEN state = 'resurrected' THEN 1 ELSE 0 END) AS BIGINT) AS resurrected,
        CAST(sum(CASE WHEN state = 'current' AND previous_state = 'new' THEN 1 ELSE 0 END) AS BIGINT)
            AS new_to_current,
        CAST(sum(CASE WHEN state = 'current' AND previous_state = 'current' THEN 1 ELSE 0 END) AS BIGINT)
            AS current_to_current,
        CAST(sum(CASE WHEN state = 'current' AND previous_state = 'resurrected' THEN 1 ELSE 0 END) AS BIGINT)
            AS resurrected_to_current,
        CAST(sum(CASE WHEN state = 'resurrected' AND last_active_start = second_previous_start
            THEN 1 ELSE 0 END) AS BIGINT) AS dormant_to_resurrected,
        CAST(sum(CASE WHEN state = 'resurrected' AND last_active_start < second_previous_start
            THEN 1 ELSE 0 END) AS BIGINT) AS lost_to_resurrected
    FROM with_previous_state
    GROUP BY period_start
),
counted_next AS (
    -- an active period not followed by activity in the next one: dormant there
    SELECT
        next_start AS period_start,
        count(*) AS dormant,
        CAST(sum(CASE WHEN state = 'new' THEN 1 ELSE 0 END) AS BIGINT) AS new_to_dormant,
        CAST(sum(CASE WHEN state = 'current' THEN 1 ELSE 0 END) AS BIGINT) AS current_to_dormant,
        CAST(sum(CASE WHEN state = 'resurrected' THEN 1 ELSE 0 END) AS BIGINT) AS resurrected_to_dormant
    FROM with_previous_state
    WHERE next_active_start IS NULL OR next_active_start > next_start
    GROUP BY next_start
),
counted_after_next AS (
    -- dormant in the next period and still inactive in the one after: lost there
    SELECT after_next_start AS period_start, count(*) AS dormant_to_lost
    FROM with_previous_state
    WHERE next_active_start IS NULL OR next_active_start > after_next_start
    GROUP BY after_next_start
),
periods AS (
    SELECT period_start FROM counted_now
    UNION
    SELECT period_start FROM counted_next
    UNION
    SELECT period_start FROM counted_after_next
)
SELECT
    p.period_start,
    coalesce(n.active, 0) AS active,
    coalesce(n.new, 0) AS new,
    coalesce(n.current, 0) AS current,
    coalesce(n.resurrected, 0) AS resurrected,
    coalesce(x.dormant, 0) AS dormant,
    coalesce(n.new_to_current, 0) AS new_to_current,
    coalesce(n.current_to_current, 0) AS current_to_current,
    coalesce(n.resurrected_to_current, 0) AS resurrected_to_current,
    coalesce(x.new_to_dormant, 0) AS new_to_dormant,
    coalesce(x.current_to_dormant, 0) AS current_to_dormant,
    coalesce(x.resurrected_to_dormant, 0) AS resurrected_to_dormant,
    coalesce(n.dormant_to_resurrected, 0) AS dormant_to_resurrected,
    coalesce(a.dormant_to_lost, 0) AS dormant_to_lost,
    coalesce(n.lost_to_resurrected, 0) AS lost_to_resurrected
FROM periods AS p
LEFT JOIN counted_now AS n ON n.period_start = p.period_start
LEFT JOIN counted_next AS x ON x.period_start = p.period_start
LEFT JOIN counted_after_next AS a ON a.period_start = p.period_start
ORDER BY p.period_start
