EXPLAIN QUERY PLAN SELECT [a;b], `c;d`, "e;f" FROM t; -- c;
/* d; */ SELECT 2