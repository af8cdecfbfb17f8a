-- The sqlite3 workload of the benchmarks (an in-memory database): bulk
-- inserts, an index build, a join with grouping, updates and deletes.
CREATE TABLE item(id INTEGER PRIMARY KEY, name TEXT, grp INTEGER, payload BLOB);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200000)
INSERT INTO item SELECT i, printf('item-%08d', i), i % 997, zeroblob(i % 200) FROM n;
CREATE INDEX item_grp ON item(grp, name);
CREATE TABLE grp AS SELECT DISTINCT grp AS id, 'group ' || grp AS label FROM item;
SELECT count(*), sum(length(i.payload)) FROM item i JOIN grp g ON g.id = i.grp GROUP BY g.label
  ORDER BY 1 DESC LIMIT 1;
UPDATE item SET name = upper(name) WHERE id % 3 = 0;
DELETE FROM item WHERE id % 4 = 0;
SELECT count(*) FROM item;
