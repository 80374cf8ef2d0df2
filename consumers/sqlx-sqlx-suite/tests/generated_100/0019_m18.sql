CREATE TABLE t36 (id INTEGER PRIMARY KEY, code TEXT UNIQUE, label TEXT, qty INTEGER DEFAULT 0, price REAL, state INTEGER CHECK (state BETWEEN 0 AND 9), payload BLOB, created TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')), parent_id INTEGER REFERENCES t35(id), grand_id INTEGER REFERENCES t32(id));
CREATE INDEX t36_label ON t36(label);
CREATE INDEX t36_qty ON t36(qty, price);
INSERT INTO t36 (id, code, label, state, parent_id) VALUES (1, 'c36-1', 'l1', 1, 1);
INSERT INTO t36 (id, code, label, state, parent_id) VALUES (2, 'c36-2', 'l2', 1, 2);
CREATE TABLE t37 (id INTEGER PRIMARY KEY, code TEXT UNIQUE, label TEXT, qty INTEGER DEFAULT 0, price REAL, state INTEGER CHECK (state BETWEEN 0 AND 9), payload BLOB, created TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')), parent_id INTEGER REFERENCES t36(id), grand_id INTEGER REFERENCES t33(id));
CREATE INDEX t37_label ON t37(label);
INSERT INTO t37 (id, code, label, state, parent_id) VALUES (1, 'c37-1', 'l1', 1, 1);
INSERT INTO t37 (id, code, label, state, parent_id) VALUES (2, 'c37-2', 'l2', 1, 2);
