-- Experiment outcomes (crmlib.experiments experiment_outcomes): one row per (experiment_id,
-- customer_id) of {{ assignments }} with exactly one distinct variant, ordered by both.
-- A customer assigned to several variants of one experiment gets no row; repeated rows of one
-- variant collapse to the earliest assignment (its assigned_ts and cost).
-- Reads {{ assignments }} (customer_id, experiment_id, variant, assigned_ts; {{ cost }} is the
-- cost column or a NULL), {{ transactions }} (customer_id, order_ts, amount, gross_amount) and
-- {{ events }} (customer_id, event_ts, event_type; an empty relation without an events table).
-- Nothing dated at or after $end_ts (midnight after the as_of day) is read.
-- Offsets are microseconds from assigned_ts (exact; a day is 86 400 000 000 us, timestamps are
-- naive UTC). With offset = order_ts - assigned_ts, over placed orders (gross_amount > 0: a later
-- cancelled order counts, with its net amount 0; an unmatched return row never does):
--   outcome window 0 < offset <= $window_us: repurchase (1/0), orders, net_revenue (net amount,
--   summed exactly as DECIMAL and rounded to cents, like every sum of money here);
--   retention window 0 < offset <= $retention_us: retention_hit (1/0; the caller blanks it when
--   the retention window is not closed by $end_ts);
--   pre-period -$pre_us <= offset < 0: pre_orders, pre_spend (net amount);
--   first_purchase_us: the smallest offset > 0 (NULL without an order after assignment);
--   observed_us: $end_ts - assigned_ts; window_closed: $window_us <= observed_us;
--   opens, clicks, unsubscribes: events of that type (every channel) in the outcome window;
--   0 without any (the caller makes them NULL without an events table).
-- One pass over the assignments (a window for the variant check and the first row), one
-- equi-join of the placed orders on customer_id (offsets bounded in the join), one of the events.
-- Parameters: $end_ts, $window_us, $retention_us, $pre_us (BIGINT microseconds).
WITH ranked AS (
    SELECT
        CAST(experiment_id AS VARCHAR) AS experiment_id,
        CAST(customer_id AS VARCHAR) AS customer_id,
        CAST(variant AS VARCHAR) AS variant,
        assigned_ts,
        {{ cost }} AS cost,
        min(variant) OVER (PARTITION BY experiment_id, customer_id) AS first_variant,
        max(variant) OVER (PARTITION BY experiment_id, customer_id) AS last_variant,
        row_number() OVER (
            PARTITION BY experiment_id, customer_id ORDER BY assigned_ts, cost
        ) AS assignment_rank
    FROM {{ assignments }}
    WHERE customer_id IS NOT NULL
),
assigned AS (
    SELECT experiment_id, customer_id, variant, assigned_ts, cost
    FROM ranked
    WHERE assignment_rank = 1 AND first_variant = last_variant
),
purchases AS (
    SELECT
        a.experiment_id,
        a.customer_id,
        date_diff('microsecond', a.assigned_ts, t.order_ts) AS offset_us,
        t.amount
    FROM assigned AS a
    INNER JOIN {{ transactions }} AS t
        ON t.customer_id = a.customer_id
        AND t.gross_amount > 0
        AND t.order_ts < $end_ts
        AND date_diff('microsecond', a.assigned_ts, t.order_ts) >= -$pre_us
),
purchase_outcomes AS (
    SELECT
        experiment_id,
        customer_id,
        CAST(sum(CASE WHEN offset_us > 0 AND offset_us <= $window_us THEN 1 ELSE 0 END)
            AS DOUBLE) AS orders,
        CAST(round(
            sum(
                CASE WHEN offset_us > 0 AND offset_us <= $window_us
                    THEN CAST(amount AS DECIMAL(18, 6)) ELSE 0 END
            ),
            2
        ) AS DOUBLE) AS net_revenue,
        CAST(max(CASE WHEN offset_us > 0 AND offset_us <= $retention_us THEN 1 ELSE 0 END)
            AS DOUBLE) AS retention_hit,
        CAST(sum(CASE WHEN offset_us < 0 THEN 1 ELSE 0 END) AS DOUBLE) AS pre_orders,
        CAST(
            round(sum(CASE WHEN offset_us < 0 THEN CAST(amount AS DECIMAL(18, 6)) ELSE 0 END), 2)
            AS DOUBLE
        )
            AS pre_spend,
        min(CASE WHEN offset_us > 0 THEN offset_us END) AS first_purchase_us
    FROM purchases
    GROUP BY experiment_id, customer_id
),
event_outcomes AS (
    SELECT
        a.experiment_id,
        a.customer_id,
        CAST(sum(CASE WHEN e.event_type = 'open' THEN 1 ELSE 0 END) AS DOUBLE) AS opens,
        CAST(sum(CASE WHEN e.event_type = 'click' THEN 1 ELSE 0 END) AS DOUBLE) AS clicks,
        CAST(sum(CASE WHEN e.event_type = 'unsubscribe' THEN 1 ELSE 0 END) AS DOUBLE)
            AS unsubscribes
    FROM assigned AS a
    INNER JOIN {{ events }} AS e
        ON e.customer_id = a.customer_id
        AND e.event_ts > a.assigned_ts
        AND e.event_ts < $end_ts
        AND date_diff('microsecond', a.assigned_ts, e.event_ts) <= $window_us
    GROUP BY a.experiment_id, a.customer_id
)
SELECT
    a.experiment_id,
    a.customer_id,
    a.variant,
    a.assigned_ts,
    CAST(a.cost AS DOUBLE) AS cost,
    date_diff('microsecond', a.assigned_ts, $end_ts) AS observed_us,
    CAST(coalesce(p.orders, 0.0) > 0.0 AS DOUBLE) AS repurchase,
    coalesce(p.orders, 0.0) AS orders,
    coalesce(p.net_revenue, 0.0) AS net_revenue,
    coalesce(p.retention_hit, 0.0) AS retention_hit,
    coalesce(e.opens, 0.0) AS opens,
    coalesce(e.clicks, 0.0) AS clicks,
    coalesce(e.unsubscribes, 0.0) AS unsubscribes,
    coalesce(p.pre_orders, 0.0) AS pre_orders,
    coalesce(p.pre_spend, 0.0) AS pre_spend,
    p.first_purchase_us
FROM assigned AS a
LEFT JOIN purchase_outcomes AS p
    ON p.experiment_id = a.experiment_id AND p.customer_id = a.customer_id
LEFT JOIN event_outcomes AS e
    ON e.experiment_id = a.experiment_id AND e.customer_id = a.customer_id
ORDER BY a.experiment_id, a.customer_id;
