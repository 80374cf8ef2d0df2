CREATE TABLE t20 (id INTEGER PRIMARY KEY, code TEXT UNIQUE, label TEXT, qty INTEGER DEFAULT 0, price REAL, state INTEGER CHECK (state BETWEEN 0 AND 9), payload BLOB, created TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')), parent_id INTEGER REFERENCES t19(id), grand_id INTEGER REFERENCES t16(id));
CREATE INDEX t20_label ON t20(label);
CREATE INDEX t20_qty ON t20(qty, price);
INSERT INTO t20 (id, code, label, state, parent_id) VALUES (1, 'c20-1', 'l1', 1, 1);
INSERT INTO t20 (id, code, label, state, parent_id) VALUES (2, 'c20-2', 'l2', 1, 2);
CREATE TABLE t21 (id INTEGER PRIMARY KEY, code TEXT UNIQUE, label TEXT, qty INTEGER DEFAULT 0, price REAL, state INTEGER CHECK (state BETWEEN 0 AND 9), payload BLOB, created TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')), parent_id INTEGER REFERENCES t20(id), grand_id INTEGER REFERENCES t17(id));
CREATE INDEX t21_label ON t21(label);
INSERT INTO t21 (id, code, label, state, parent_id) VALUES (1, 'c21-1', 'l1', 1, 1);
INSERT INTO t21 (id, code, label, state, parent_id) VALUES (2, 'c21-2', 'l2', 1, 2);
