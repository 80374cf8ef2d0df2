CREATE TABLE t12 (id INTEGER PRIMARY KEY, code TEXT UNIQUE, label TEXT, qty INTEGER DEFAULT 0, price REAL, state INTEGER CHECK (state BETWEEN 0 AND 9), payload BLOB, created TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')), parent_id INTEGER REFERENCES t11(id), grand_id INTEGER REFERENCES t8(id));
CREATE INDEX t12_label ON t12(label);
CREATE INDEX t12_qty ON t12(qty, price);
INSERT INTO t12 (id, code, label, state, parent_id) VALUES (1, 'c12-1', 'l1', 1, 1);
INSERT INTO t12 (id, code, label, state, parent_id) VALUES (2, 'c12-2', 'l2', 1, 2);
CREATE TABLE t13 (id INTEGER PRIMARY KEY, code TEXT UNIQUE, label TEXT, qty INTEGER DEFAULT 0, price REAL, state INTEGER CHECK (state BETWEEN 0 AND 9), payload BLOB, created TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')), parent_id INTEGER REFERENCES t12(id), grand_id INTEGER REFERENCES t9(id));
CREATE INDEX t13_label ON t13(label);
INSERT INTO t13 (id, code, label, state, parent_id) VALUES (1, 'c13-1', 'l1', 1, 1);
INSERT INTO t13 (id, code, label, state, parent_id) VALUES (2, 'c13-2', 'l2', 1, 2);
