CREATE TABLE t6 (id INTEGER PRIMARY KEY, code TEXT UNIQUE, label TEXT, qty INTEGER DEFAULT 0, price REAL, state INTEGER CHECK (state BETWEEN 0 AND 9), payload BLOB, created TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')), parent_id INTEGER REFERENCES t5(id), grand_id INTEGER REFERENCES t2(id));
CREATE INDEX t6_label ON t6(label);
CREATE INDEX t6_qty ON t6(qty, price);
INSERT INTO t6 (id, code, label, state, parent_id) VALUES (1, 'c6-1', 'l1', 1, 1);
INSERT INTO t6 (id, code, label, state, parent_id) VALUES (2, 'c6-2', 'l2', 1, 2);
CREATE TABLE t7 (id INTEGER PRIMARY KEY, code TEXT UNIQUE, label TEXT, qty INTEGER DEFAULT 0, price REAL, state INTEGER CHECK (state BETWEEN 0 AND 9), payload BLOB, created TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')), parent_id INTEGER REFERENCES t6(id), grand_id INTEGER REFERENCES t3(id));
CREATE INDEX t7_label ON t7(label);
INSERT INTO t7 (id, code, label, state, parent_id) VALUES (1, 'c7-1', 'l1', 1, 1);
INSERT INTO t7 (id, code, label, state, parent_id) VALUES (2, 'c7-2', 'l2', 1, 2);
