-- Association rules between pairs of items (crmlib.segments.queries.affinities.association_rules): one
-- row per population x ordered pair (antecedent -> consequent) bought by at least
-- $min_pair_customers customers of the population, with pair support >= $min_support.
-- Pairs are formed once per customer (self-join of the pruned baskets, item_key a < b) and
-- counted per segment (the NULL segment included); the "all" population ($all_label) is the sum
-- over segments, so populations do not multiply the join. Both directions of a pair are rows.
-- Reads {{ kept }} (customer_id, item_key, segment), {{ item_keys }} (item_key, item) and
-- {{ item_counts }} (population, item, n_item, n_customers), all from
-- segments_affinity_baskets.sql. Output columns: population, antecedent, consequent,
-- n_customers, n_a, n_b, n_ab, support, confidence, lift.
-- Parameters: $all_label, $min_support, $min_pair_customers.
WITH by_segment AS (
    SELECT a.segment, a.item_key AS key_a, b.item_key AS key_b, count(*) AS n_ab
    FROM {{ kept }} AS a
    JOIN {{ kept }} AS b ON b.customer_id = a.customer_id AND a.item_key < b.item_key
    GROUP BY a.segment, a.item_key, b.item_key
),
pairs AS (
    SELECT segment AS population, key_a, key_b, n_ab
    FROM by_segment
    WHERE segment IS NOT NULL AND n_ab >= $min_pair_customers
    UNION ALL
    SELECT $all_label AS population, key_a, key_b, sum(n_ab) AS n_ab
    FROM by_segment
    GROUP BY key_a, key_b
    HAVING sum(n_ab) >= $min_pair_customers
),
counted AS (
    SELECT
        p.population,
        ka.item AS item_a,
        kb.item AS item_b,
        ca.n_customers,
        ca.n_item AS n_item_a,
        cb.n_item AS n_item_b,
        CAST(p.n_ab AS BIGINT) AS n_ab
    FROM pairs AS p
    JOIN {{ item_keys }} AS ka ON ka.item_key = p.key_a
    JOIN {{ item_keys }} AS kb ON kb.item_key = p.key_b
    JOIN {{ item_counts }} AS ca ON ca.population = p.population AND ca.item = ka.item
    JOIN {{ item_counts }} AS cb ON cb.population = p.population AND cb.item = kb.item
    WHERE CAST(p.n_ab AS DOUBLE) >= $min_support * CAST(ca.n_customers AS DOUBLE)
),
rules AS (
    SELECT population, item_a AS antecedent, item_b AS consequent, n_customers,
        n_item_a AS n_a, n_item_b AS n_b, n_ab
    FROM counted
    UNION ALL
    SELECT population, item_b AS antecedent, item_a AS consequent, n_customers,
        n_item_b AS n_a, n_item_a AS n_b, n_ab
    FROM counted
)
SELECT
    population,
    antecedent,
    consequent,
    n_customers,
    n_a,
    n_b,
    n_ab,
    CAST(n_ab AS DOUBLE) / CAST(n_customers AS DOUBLE) AS support,
    CAST(n_ab AS DOUBLE) / CAST(n_a AS DOUBLE) AS confidence,
    CAST(n_ab AS DOUBLE) * CAST(n_customers AS DOUBLE)
        / (CAST(n_a AS DOUBLE) * CAST(n_b AS DOUBLE)) AS lift
FROM rules;
