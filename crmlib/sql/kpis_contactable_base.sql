-- Contactable base (crmlib.kpis.contactable_base): per channel and period, how many customers
-- join each running total in that period. pandas turns these increments into stocks.
-- Reads {{ customers }}: customer_id, signup_ts, email_opt_in, sms_opt_in, push_opt_in;
-- {{ events }}: customer_id, event_ts, channel, event_type.
-- Parameters: $period, $end_ts (the day after as_of_date).
-- A customer with an unknown signup_ts is counted from the first period (period 1900-01-01 here).
-- Consent is the customers table's snapshot; an unsubscribe counts from its first event on
-- that channel (or from signup, if the event is dated earlier).
WITH unsubscribes AS (
    SELECT customer_id, channel, min(event_ts) AS first_unsubscribe_ts
    FROM {{ events }}
    WHERE event_type = 'unsubscribe' AND event_ts < $end_ts
    GROUP BY customer_id, channel
),
base AS (
    SELECT
        c.customer_id,
        ch.channel,
        coalesce(CAST(date_trunc($period, c.signup_ts) AS DATE), DATE '1900-01-01') AS signup_period,
        coalesce(
            CASE ch.channel
                WHEN 'email' THEN c.email_opt_in
                WHEN 'sms' THEN c.sms_opt_in
                ELSE c.push_opt_in
            END,
            FALSE
        ) AS consented
    FROM {{ customers }} AS c
    CROSS JOIN (VALUES ('email'), ('sms'), ('push')) AS ch(channel)
    WHERE c.signup_ts IS NULL OR c.signup_ts < $end_ts
),
joined AS (
    SELECT
        b.channel,
        b.signup_period,
        b.consented,
        CASE
            WHEN u.first_unsubscribe_ts IS NULL THEN NULL
            ELSE greatest(b.signup_period, CAST(date_trunc($period, u.first_unsubscribe_ts) AS DATE))
        END AS unsubscribe_period
    FROM base AS b
    LEFT JOIN unsubscribes AS u ON u.customer_id = b.customer_id AND u.channel = b.channel
)
SELECT
    channel,
    signup_period AS period_start,
    count(*) AS customers,
    CAST(sum(CASE WHEN consented THEN 1 ELSE 0 END) AS BIGINT) AS consented,
    CAST(0 AS BIGINT) AS unsubscribed,
    CAST(0 AS BIGINT) AS consented_unsubscribed
FROM joined
GROUP BY channel, signup_period
UNION ALL
SELECT
    channel,
    unsubscribe_period AS period_start,
    CAST(0 AS BIGINT) AS customers,
    CAST(0 AS BIGINT) AS consented,
    count(*) AS unsubscribed,
    CAST(sum(CASE WHEN consented THEN 1 ELSE 0 END) AS BIGINT) AS consented_unsubscribed
FROM joined
WHERE unsubscribe_period IS NOT NULL
GROUP BY channel, unsubscribe_period
