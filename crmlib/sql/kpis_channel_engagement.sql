-- Channel engagement (crmlib.kpis.channel_engagement): one row per period and channel with sends.
-- Reads {{ events }}: customer_id, event_ts, channel, event_type, campaign_id;
-- {{ transactions }}: customer_id, order_ts, is_purchase.
-- Parameters: $period, $end_ts (the day after as_of_date), $window_seconds (conversion window).
-- A send is one (customer, campaign, channel), dated by its first 'sent' event. It counts as
-- opened when an open or a click of the same customer and campaign exists (a click proves an
-- open), clicked / unsubscribed likewise, and converted when the customer's next purchase
-- strictly after the send is at most $window_seconds later. The next purchase comes from a
-- running minimum over each customer's sends and purchases in reverse time order (no range
-- join); purchases before the first send cannot follow a send and are left out early.
WITH per_send AS (
    SELECT
        customer_id,
        campaign_id,
        channel,
        min(CASE WHEN event_type = 'sent' THEN CAST(event_ts AS TIMESTAMP) END) AS sent_ts,
        max(CASE WHEN event_type IN ('open', 'click') THEN 1 ELSE 0 END) AS opened,
        max(CASE WHEN event_type = 'click' THEN 1 ELSE 0 END) AS clicked,
        max(CASE WHEN event_type = 'unsubscribe' THEN 1 ELSE 0 END) AS unsubscribed
    FROM {{ events }}
    WHERE event_ts < $end_ts AND customer_id IS NOT NULL
        AND event_type IN ('sent', 'open', 'click', 'unsubscribe')
    GROUP BY customer_id, campaign_id, channel
),
sends AS (
    SELECT * FROM per_send WHERE sent_ts IS NOT NULL
),
stream AS (
    SELECT customer_id, sent_ts AS ts, 1 AS is_send, channel, opened, clicked, unsubscribed,
        CAST(NULL AS TIMESTAMP) AS order_ts
    FROM sends
    UNION ALL
    SELECT customer_id, CAST(order_ts AS TIMESTAMP) AS ts, 0 AS is_send, CAST(NULL AS VARCHAR) AS channel,
        0 AS opened, 0 AS clicked, 0 AS unsubscribed, CAST(order_ts AS TIMESTAMP) AS order_ts
    FROM {{ transactions }}
    WHERE is_purchase AND order_ts < $end_ts
        AND order_ts >= (SELECT min(event_ts) FROM {{ events }} WHERE event_type = 'sent')
),
followed AS (
    SELECT
        ts AS sent_ts, is_send, channel, opened, clicked, unsubscribed,
        -- purchases sort before a send at the same second, so they do not count as after it
        min(order_ts) OVER (
            PARTITION BY customer_id ORDER BY ts DESC, is_send DESC
            ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
        ) AS next_order_ts,
        customer_id
    FROM stream
)
SELECT
    CAST(date_trunc($period, sent_ts) AS DATE) AS period_start,
    channel,
    count(*) AS sends,
    count(DISTINCT customer_id) AS customers_sent,
    CAST(sum(opened) AS BIGINT) AS opened,
    CAST(sum(clicked) AS BIGINT) AS clicked,
    CAST(sum(unsubscribed) AS BIGINT) AS unsubscribed,
    CAST(sum(CASE WHEN date_diff('second', sent_ts, next_order_ts) <= $window_seconds THEN 1 ELSE 0 END) AS BIGINT)
        AS conversions,
    max(sent_ts) AS last_sent_ts
FROM followed
WHERE is_send = 1
GROUP BY CAST(date_trunc($period, sent_ts) AS DATE), channel
ORDER BY period_start, channel
