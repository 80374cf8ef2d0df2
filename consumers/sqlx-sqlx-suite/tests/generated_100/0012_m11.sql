CREATE TABLE t22 (id INTEGER PRIMARY KEY, code TEXT UNIQUE, label TEXT, qty INTEGER DEFAULT 0, price REAL, state INTEGER CHECK (state BETWEEN 0 AND 9), payload BLOB, created TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')), parent_id INTEGER REFERENCES t21(id), grand_id INTEGER REFERENCES t18(id));
CREATE INDEX t22_label ON t22(label);
CREATE INDEX t22_qty ON t22(qty, price);
INSERT INTO t22 (id, code, label, state, parent_id) VALUES (1, 'c22-1', 'l1', 1, 1);
INSERT INTO t22 (id, code, label, state, parent_id) VALUES (2, 'c22-2', 'l2', 1, 2);
CREATE TABLE t23 (id INTEGER PRIMARY KEY, code TEXT UNIQUE, label TEXT, qty INTEGER DEFAULT 0, price REAL, state INTEGER CHECK (state BETWEEN 0 AND 9), payload BLOB, created TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')), parent_id INTEGER REFERENCES t22(id), grand_id INTEGER REFERENCES t19(id));
CREATE INDEX t23_label ON t23(label);
INSERT INTO t23 (id, code, label, state, parent_id) VALUES (1, 'c23-1', 'l1', 1, 1);
INSERT INTO t23 (id, code, label, state, parent_id) VALUES (2, 'c23-2', 'l2', 1, 2);
