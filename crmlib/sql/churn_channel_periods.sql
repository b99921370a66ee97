-- Retention by acquisition channel (crmlib.churn.trend.churn_by_segment): one row per period and
-- channel with at least one customer in the base, as churn_segment_periods.sql by segment:
-- base_customers (bought in the period before), retained_customers (of them, bought again).
-- A customer without a row in {{ customers }}, or with a blank channel, is '(unknown)'.
-- Reads {{ members }} (churn_segment_members.sql: period_start, customer_key, retained),
-- {{ customer_facts }} (customer_key, customer_id) and {{ customers }} (customer_id,
-- acquisition_channel; one row per customer).
SELECT
    m.period_start,
    coalesce(nullif(trim(CAST(c.acquisition_channel AS VARCHAR)), ''), '(unknown)')
        AS dimension_value,
    CAST(count(*) AS BIGINT) AS base_customers,
    CAST(sum(m.retained) AS BIGINT) AS retained_customers
FROM {{ members }} AS m
JOIN {{ customer_facts }} AS f ON f.customer_key = m.customer_key
LEFT JOIN {{ customers }} AS c ON c.customer_id = f.customer_id
GROUP BY m.period_start, coalesce(nullif(trim(CAST(c.acquisition_channel AS VARCHAR)), ''), '(unknown)')
ORDER BY m.period_start, dimension_value
