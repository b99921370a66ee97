-- Activation audience (crmlib.activation.build_audience): one row per member of {{ members }}
-- whose label is one of {{ targets }} and who was not in a target label in {{ previous }}
-- (trigger "entered"; an empty relation keeps every target member), with one flag per funnel
-- step: customer_id, label, consented, suppressed, recent_purchase, capped, and control_hash
-- (the first 8 bytes of md5($salt || customer_id): the seeded control draw).
-- Reads {{ members }} and {{ previous }} (customer_id, label), {{ targets }} (label),
-- {{ customers }} (customer_id and the expression {{ opt_in }}: the channel's opt-in flag),
-- {{ events }} (customer_id, event_ts, channel, event_type), {{ suppression }} (customer_id),
-- {{ transactions }} (customer_id, order_ts, is_purchase).
-- Parameters: $channel; $end_ts (midnight after as_of: later events and orders are unseen);
-- $purchase_from (purchases in [$purchase_from, $end_ts) suppress); $cap_from and $cap_max
-- (at least $cap_max sends on the channel in [$cap_from, $end_ts) cap); $salt ("seed:campaign:").
-- Consent fails closed: no customers row, a null flag, or any row of a repeated customer saying
-- false is no consent; any unsubscribe on the channel before $end_ts withdraws it.
WITH in_target AS (
    SELECT m.customer_id, m.label
    FROM {{ members }} AS m
    JOIN {{ targets }} AS t ON t.label = m.label
),
was_target AS (
    SELECT DISTINCT p.customer_id
    FROM {{ previous }} AS p
    JOIN {{ targets }} AS t ON t.label = p.label
),
entered AS (
    SELECT i.customer_id, i.label
    FROM in_target AS i
    LEFT JOIN was_target AS w ON w.customer_id = i.customer_id
    WHERE w.customer_id IS NULL
),
opt_ins AS (
    SELECT c.customer_id, min(CASE WHEN {{ opt_in }} THEN 1 ELSE 0 END) AS opted_in
    FROM {{ customers }} AS c
    GROUP BY c.customer_id
),
channel_events AS (
    SELECT
        e.customer_id,
        max(CASE WHEN e.event_type = 'unsubscribe' THEN 1 ELSE 0 END) AS unsubscribed,
        sum(CASE WHEN e.event_type = 'sent' AND e.event_ts >= $cap_from THEN 1 ELSE 0 END)
            AS recent_sends
    FROM {{ events }} AS e
    WHERE e.channel = $channel
        AND e.event_type IN ('unsubscribe', 'sent')
        AND e.event_ts < $end_ts
    GROUP BY e.customer_id
),
suppressed AS (
    SELECT DISTINCT s.customer_id FROM {{ suppression }} AS s
),
recent AS (
    SELECT DISTINCT t.customer_id
    FROM {{ transactions }} AS t
    WHERE t.is_purchase AND t.order_ts >= $purchase_from AND t.order_ts < $end_ts
)
SELECT
    n.customer_id,
    n.label,
    coalesce(o.opted_in, 0) = 1 AND coalesce(v.unsubscribed, 0) = 0 AS consented,
    s.customer_id IS NOT NULL AS suppressed,
    r.customer_id IS NOT NULL AS recent_purchase,
    coalesce(v.recent_sends, 0) >= $cap_max AS capped,
    unhex(substr(md5($salt || n.customer_id), 1, 16)) AS control_hash
FROM entered AS n
LEFT JOIN opt_ins AS o ON o.customer_id = n.customer_id
LEFT JOIN channel_events AS v ON v.customer_id = n.customer_id
LEFT JOIN suppressed AS s ON s.customer_id = n.customer_id
LEFT JOIN recent AS r ON r.customer_id = n.customer_id
ORDER BY n.customer_id
