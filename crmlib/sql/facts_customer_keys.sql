-- Shared purchase facts, the keys (crmlib.facts): temp table {{ target }} with one row per
-- customer id in {{ transactions }} (customer_id; NULL ids are left out): customer_id and
-- customer_key, an INTEGER numbering the ids 1, 2, ... in customer_id order, so that ordering
-- by the key is ordering by the id.
CREATE OR REPLACE TEMP TABLE {{ target }} AS
SELECT customer_id, CAST(row_number() OVER (ORDER BY customer_id) AS INTEGER) AS customer_key
FROM (SELECT DISTINCT customer_id FROM {{ transactions }} WHERE customer_id IS NOT NULL) AS ids;
