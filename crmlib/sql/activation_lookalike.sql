-- Look-alike seed (crmlib.activation.lookalike_seed): one row per member of {{ members }} with
-- label $label: customer_id, label, reachable (some channel's signup opt-in is true and no
-- unsubscribe on that channel has withdrawn it), suppressed (on {{ suppression }}).
-- Reads {{ members }} (customer_id, label), {{ customers }} (customer_id and the expressions
-- {{ email_opt_in }}, {{ sms_opt_in }}, {{ push_opt_in }}), {{ events }} (customer_id, channel,
-- event_type: every unsubscribe in the table counts), {{ suppression }} (customer_id).
-- Parameters: $label.
-- Consent fails closed as in activation_audience.sql: a null flag or any row of a repeated
-- customer saying false is no consent on that channel.
WITH opt_ins AS (
    SELECT
        c.customer_id,
        ch.channel,
        min(
            CASE
                WHEN (
                    CASE ch.channel
                        WHEN 'email' THEN {{ email_opt_in }}
                        WHEN 'sms' THEN {{ sms_opt_in }}
                        ELSE {{ push_opt_in }}
                    END
                ) THEN 1
                ELSE 0
            END
        ) AS opted_in
    FROM {{ customers }} AS c
    CROSS JOIN (VALUES ('email'), ('sms'), ('push')) AS ch(channel)
    GROUP BY c.customer_id, ch.channel
),
withdrawn AS (
    SELECT DISTINCT e.customer_id, e.channel
    FROM {{ events }} AS e
    WHERE e.event_type = 'unsubscribe'
),
reachable AS (
    SELECT DISTINCT o.customer_id
    FROM opt_ins AS o
    LEFT JOIN withdrawn AS w ON w.customer_id = o.customer_id AND w.channel = o.channel
    WHERE o.opted_in = 1 AND w.customer_id IS NULL
),
suppressed AS (
    SELECT DISTINCT s.customer_id FROM {{ suppression }} AS s
)
SELECT
    m.customer_id,
    m.label,
    r.customer_id IS NOT NULL AS reachable,
    s.customer_id IS NOT NULL AS suppressed
FROM {{ members }} AS m
LEFT JOIN reachable AS r ON r.customer_id = m.customer_id
LEFT JOIN suppressed AS s ON s.customer_id = m.customer_id
WHERE m.label = $label
ORDER BY m.customer_id
