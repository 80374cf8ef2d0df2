CREATE TABLE t2 (id INTEGER PRIMARY KEY, code TEXT UNIQUE, label TEXT, qty INTEGER DEFAULT 0, price REAL, state INTEGER CHECK (state BETWEEN 0 AND 9), payload BLOB, created TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')), parent_id INTEGER REFERENCES t1(id));
CREATE INDEX t2_label ON t2(label);
CREATE INDEX t2_qty ON t2(qty, price);
INSERT INTO t2 (id, code, label, state, parent_id) VALUES (1, 'c2-1', 'l1', 1, 1);
INSERT INTO t2 (id, code, label, state, parent_id) VALUES (2, 'c2-2', 'l2', 1, 2);
CREATE TABLE t3 (id INTEGER PRIMARY KEY, code TEXT UNIQUE, label TEXT, qty INTEGER DEFAULT 0, price REAL, state INTEGER CHECK (state BETWEEN 0 AND 9), payload BLOB, created TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')), parent_id INTEGER REFERENCES t2(id));
CREATE INDEX t3_label ON t3(label);
INSERT INTO t3 (id, code, label, state, parent_id) VALUES (1, 'c3-1', 'l1', 1, 1);
INSERT INTO t3 (id, code, label, state, parent_id) VALUES (2, 'c3-2', 'l2', 1, 2);
