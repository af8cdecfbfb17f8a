-- A SQL workload for the valgrind oracle test, run by the sqlite3 shell on an
-- in-memory database: table and index builds, a join, grouping and string
-- functions make sqlite allocate and free many blocks of many sizes (its page
-- cache, parser and VDBE all sit on malloc in the shell's default build).
CREATE TABLE item(id INTEGER PRIMARY KEY, name TEXT, grp INTEGER, payload BLOB);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000)
INSERT INTO item SELECT i, printf('item-%06d', i), i % 97, randomblob(i % 300) FROM n;
CREATE INDEX item_grp ON item(grp, name);
CREATE TABLE grp(id INTEGER PRIMARY KEY, label TEXT);
INSERT INTO grp SELECT DISTINCT grp, 'group ' || grp FROM item;
SELECT g.label, count(*), sum(length(i.payload)), max(i.name)
  FROM item i JOIN grp g ON g.id = i.grp GROUP BY g.label ORDER BY 2 DESC, 1 LIMIT 5;
UPDATE item SET name = upper(name) || '-' || length(payload) WHERE id % 3 = 0;
DELETE FROM item WHERE id % 5 = 0;
SELECT count(*), group_concat(DISTINCT substr(name, 1, 6)) FROM item;
DROP INDEX item_grp;
VACUUM;
