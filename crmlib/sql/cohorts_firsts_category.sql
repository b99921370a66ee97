-- First purchases with their category (crmlib.cohorts, the first_category split): as
-- cohorts_firsts.sql, with first_category = the category of the customer's first purchase, ties
-- (orders at the same first timestamp) broken by order_id; null (shown as "(unknown)") when the
-- first purchase has no category.
-- Reads {{ customer_facts }} (crmlib.facts: customer_key, customer_id, first_purchase_ts) and
-- {{ transactions }} (customer_id, order_id, order_ts, category, is_purchase): only the purchase
-- rows at each customer's first purchase timestamp are joined and grouped.
CREATE OR REPLACE TEMP TABLE {{ firsts }} AS
WITH firsts AS (
    SELECT customer_key, customer_id, first_purchase_ts
    FROM {{ customer_facts }}
    WHERE first_purchase_ts < $end_ts
),
categories AS (
    SELECT f.customer_key, arg_min(t.category, t.order_id) AS first_category
    FROM {{ transactions }} AS t
    JOIN firsts AS f ON f.customer_id = t.customer_id AND t.order_ts = f.first_purchase_ts
    WHERE t.is_purchase
    GROUP BY f.customer_key
)
SELECT
    f.customer_key,
    f.customer_id,
    f.first_purchase_ts AS first_ts,
    CAST(c.first_category AS VARCHAR) AS first_category
FROM firsts AS f
LEFT JOIN categories AS c ON c.customer_key = f.customer_key;
