-- Affinity baskets and item counts (crmlib.segments.queries.affinities.association_rules). Statements:
-- 1. {{ baskets }}: one row per customer x item bought in the window (customer_id, item, segment).
--    A customer's basket is the set of distinct items ({{ item }}: category or product_id, as
--    VARCHAR) over the purchases (is_purchase: cancelled orders and unmatched refunds never
--    count) with $start_ts <= order_ts < $end_ts; rows with a null item or customer_id are left
--    out. segment is the customer's value in {{ segments }}: NULL without a row there, and for
--    everyone when no segments table was named ({{ segments }} is then an empty relation).
-- 2. {{ item_counts }}: one row per population x item (population, item, n_item, n_customers):
--    customers of the population whose basket holds the item, and customers of the population
--    with a basket. Populations: $all_label (everyone) and each non-null segment; a customer is
--    in one segment, so "all" is the sum over the segments (the NULL one included).
-- 3. {{ kept }}: the baskets restricted to items frequent in at least one population
--    (n_item >= $min_pair_customers and n_item >= $min_support * n_customers; the Apriori
--    pruning), the item as a dense INTEGER item_key (pairs are joined and grouped on integers),
--    and {{ item_keys }} (item_key, item) to name them back.
-- Reads {{ transactions }} (customer_id, order_ts, is_purchase, {{ item }}) and {{ segments }}
-- (customer_id, segment; one row per customer). Parameters: $start_ts, $end_ts, $all_label,
-- $min_support, $min_pair_customers.
CREATE OR REPLACE TEMP TABLE {{ baskets }} AS
WITH items AS (
    SELECT DISTINCT t.customer_id, CAST(t.{{ item }} AS VARCHAR) AS item
    FROM {{ transactions }} AS t
    WHERE t.is_purchase
        AND t.order_ts >= $start_ts
        AND t.order_ts < $end_ts
        AND t.{{ item }} IS NOT NULL
        AND t.customer_id IS NOT NULL
)
SELECT i.customer_id, i.item, CAST(s.segment AS VARCHAR) AS segment
FROM items AS i
LEFT JOIN {{ segments }} AS s ON s.customer_id = i.customer_id;

CREATE OR REPLACE TEMP TABLE {{ item_counts }} AS
WITH by_segment AS (
    SELECT segment, item, count(*) AS n_item
    FROM {{ baskets }}
    GROUP BY segment, item
),
segment_sizes AS (
    SELECT segment, count(DISTINCT customer_id) AS n_customers
    FROM {{ baskets }}
    GROUP BY segment
),
counts AS (
    SELECT segment AS population, item, n_item
    FROM by_segment
    WHERE segment IS NOT NULL
    UNION ALL
    SELECT $all_label AS population, item, sum(n_item) AS n_item
    FROM by_segment
    GROUP BY item
),
sizes AS (
    SELECT segment AS population, n_customers
    FROM segment_sizes
    WHERE segment IS NOT NULL
    UNION ALL
    SELECT $all_label AS population, sum(n_customers) AS n_customers
    FROM segment_sizes
)
SELECT
    c.population,
    c.item,
    CAST(c.n_item AS BIGINT) AS n_item,
    CAST(s.n_customers AS BIGINT) AS n_customers
FROM counts AS c
JOIN sizes AS s ON s.population = c.population;

CREATE OR REPLACE TEMP TABLE {{ item_keys }} AS
SELECT CAST(row_number() OVER (ORDER BY item) AS INTEGER) AS item_key, item
FROM (
    SELECT DISTINCT item
    FROM {{ item_counts }}
    WHERE n_item >= $min_pair_customers
        AND CAST(n_item AS DOUBLE) >= $min_support * CAST(n_customers AS DOUBLE)
) AS frequent;

CREATE OR REPLACE TEMP TABLE {{ kept }} AS
SELECT b.customer_id, k.item_key, b.segment
FROM {{ baskets }} AS b
JOIN {{ item_keys }} AS k ON k.item = b.item;
