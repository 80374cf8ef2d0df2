CREATE TABLE t14 (id INTEGER PRIMARY KEY, code TEXT UNIQUE, label TEXT, qty INTEGER DEFAULT 0, price REAL, state INTEGER CHECK (state BETWEEN 0 AND 9), payload BLOB, created TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')), parent_id INTEGER REFERENCES t13(id), grand_id INTEGER REFERENCES t10(id));
CREATE INDEX t14_label ON t14(label);
CREATE INDEX t14_qty ON t14(qty, price);
INSERT INTO t14 (id, code, label, state, parent_id) VALUES (1, 'c14-1', 'l1', 1, 1);
INSERT INTO t14 (id, code, label, state, parent_id) VALUES (2, 'c14-2', 'l2', 1, 2);
CREATE TABLE t15 (id INTEGER PRIMARY KEY, code TEXT UNIQUE, label TEXT, qty INTEGER DEFAULT 0, price REAL, state INTEGER CHECK (state BETWEEN 0 AND 9), payload BLOB, created TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')), parent_id INTEGER REFERENCES t14(id), grand_id INTEGER REFERENCES t11(id));
CREATE INDEX t15_label ON t15(label);
INSERT INTO t15 (id, code, label, state, parent_id) VALUES (1, 'c15-1', 'l1', 1, 1);
INSERT INTO t15 (id, code, label, state, parent_id) VALUES (2, 'c15-2', 'l2', 1, 2);
