-- Spend and new customers per acquisition channel and month (crmlib.clv.acquisition_by_month):
-- one row per (month, channel) with spend or with new customers.
-- Reads {{ marketing_spend }}: date, acquisition_channel, spend, campaign;
-- {{ campaign_ids }}: campaign_id (the run's messaging campaigns and experiments, possibly none);
-- {{ customer_facts }}: customer_id, first_purchase_day (crmlib.facts: the first purchase, as
-- everywhere in the workbook); {{ customers }}: customer_id, acquisition_channel.
-- Parameters: $end_day (the day after as_of_date).
-- spend: every row of the channel and month; campaign_spend: the rows with a campaign set;
-- retention_spend: the rows whose campaign is one of {{ campaign_ids }} (a retention campaign
-- or experiment of this run, not acquisition). new_customers: customers whose first purchase
-- is in the month, by their acquisition channel (NULL or empty: '(unknown)').
WITH ids AS (
    SELECT DISTINCT CAST(campaign_id AS VARCHAR) AS campaign_id
    FROM {{ campaign_ids }}
    WHERE campaign_id IS NOT NULL
),
tagged AS (
    SELECT
        CAST(date_trunc('month', CAST(m.date AS DATE)) AS DATE) AS month_start,
        coalesce(nullif(CAST(m.acquisition_channel AS VARCHAR), ''), '(unknown)') AS channel,
        m.spend,
        CASE WHEN m.campaign IS NOT NULL AND CAST(m.campaign AS VARCHAR) <> '' THEN 1 ELSE 0 END
            AS has_campaign,
        CASE WHEN i.campaign_id IS NULL THEN 0 ELSE 1 END AS is_retention
    FROM {{ marketing_spend }} AS m
    LEFT JOIN ids AS i ON i.campaign_id = CAST(m.campaign AS VARCHAR)
    WHERE CAST(m.date AS DATE) < $end_day AND m.spend IS NOT NULL
),
spend AS (
    SELECT
        month_start,
        channel,
        count(*) AS spend_rows,
        CAST(sum(spend) AS DOUBLE) AS spend,
        CAST(sum(CASE WHEN has_campaign = 1 THEN spend ELSE 0 END) AS DOUBLE) AS campaign_spend,
        CAST(sum(CASE WHEN is_retention = 1 THEN spend ELSE 0 END) AS DOUBLE) AS retention_spend
    FROM tagged
    GROUP BY month_start, channel
),
acquired AS (
    SELECT
        CAST(date_trunc('month', f.first_purchase_day) AS DATE) AS month_start,
        coalesce(nullif(CAST(c.acquisition_channel AS VARCHAR), ''), '(unknown)') AS channel,
        count(*) AS new_customers
    FROM {{ customer_facts }} AS f
    LEFT JOIN {{ customers }} AS c ON c.customer_id = f.customer_id
    WHERE f.first_purchase_day IS NOT NULL AND f.first_purchase_day < $end_day
    GROUP BY 1, 2
)
SELECT
    coalesce(s.month_start, a.month_start) AS month_start,
    coalesce(s.channel, a.channel) AS channel,
    CAST(coalesce(s.spend_rows, 0) AS BIGINT) AS spend_rows,
    coalesce(s.spend, CAST(0 AS DOUBLE)) AS spend,
    coalesce(s.campaign_spend, CAST(0 AS DOUBLE)) AS campaign_spend,
    coalesce(s.retention_spend, CAST(0 AS DOUBLE)) AS retention_spend,
    CAST(coalesce(a.new_customers, 0) AS BIGINT) AS new_customers
FROM spend AS s
FULL OUTER JOIN acquired AS a ON a.month_start = s.month_start AND a.channel = s.channel
ORDER BY month_start, channel
