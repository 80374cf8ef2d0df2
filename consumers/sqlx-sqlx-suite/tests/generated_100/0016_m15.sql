CREATE TABLE t30 (id INTEGER PRIMARY KEY, code TEXT UNIQUE, label TEXT, qty INTEGER DEFAULT 0, price REAL, state INTEGER CHECK (state BETWEEN 0 AND 9), payload BLOB, created TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')), parent_id INTEGER REFERENCES t29(id), grand_id INTEGER REFERENCES t26(id));
CREATE INDEX t30_label ON t30(label);
CREATE INDEX t30_qty ON t30(qty, price);
INSERT INTO t30 (id, code, label, state, parent_id) VALUES (1, 'c30-1', 'l1', 1, 1);
INSERT INTO t30 (id, code, label, state, parent_id) VALUES (2, 'c30-2', 'l2', 1, 2);
CREATE TABLE t31 (id INTEGER PRIMARY KEY, code TEXT UNIQUE, label TEXT, qty INTEGER DEFAULT 0, price REAL, state INTEGER CHECK (state BETWEEN 0 AND 9), payload BLOB, created TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')), parent_id INTEGER REFERENCES t30(id), grand_id INTEGER REFERENCES t27(id));
CREATE INDEX t31_label ON t31(label);
INSERT INTO t31 (id, code, label, state, parent_id) VALUES (1, 'c31-1', 'l1', 1, 1);
INSERT INTO t31 (id, code, label, state, parent_id) VALUES (2, 'c31-2', 'l2', 1, 2);
