CREATE TABLE t10 (id INTEGER PRIMARY KEY, code TEXT UNIQUE, label TEXT, qty INTEGER DEFAULT 0, price REAL, state INTEGER CHECK (state BETWEEN 0 AND 9), payload BLOB, created TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')), parent_id INTEGER REFERENCES t9(id), grand_id INTEGER REFERENCES t6(id));
CREATE INDEX t10_label ON t10(label);
CREATE INDEX t10_qty ON t10(qty, price);
INSERT INTO t10 (id, code, label, state, parent_id) VALUES (1, 'c10-1', 'l1', 1, 1);
INSERT INTO t10 (id, code, label, state, parent_id) VALUES (2, 'c10-2', 'l2', 1, 2);
CREATE TABLE t11 (id INTEGER PRIMARY KEY, code TEXT UNIQUE, label TEXT, qty INTEGER DEFAULT 0, price REAL, state INTEGER CHECK (state BETWEEN 0 AND 9), payload BLOB, created TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')), parent_id INTEGER REFERENCES t10(id), grand_id INTEGER REFERENCES t7(id));
CREATE INDEX t11_label ON t11(label);
INSERT INTO t11 (id, code, label, state, parent_id) VALUES (1, 'c11-1', 'l1', 1, 1);
INSERT INTO t11 (id, code, label, state, parent_id) VALUES (2, 'c11-2', 'l2', 1, 2);
