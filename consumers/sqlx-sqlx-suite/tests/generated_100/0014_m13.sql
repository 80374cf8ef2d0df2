CREATE TABLE t26 (id INTEGER PRIMARY KEY, code TEXT UNIQUE, label TEXT, qty INTEGER DEFAULT 0, price REAL, state INTEGER CHECK (state BETWEEN 0 AND 9), payload BLOB, created TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')), parent_id INTEGER REFERENCES t25(id), grand_id INTEGER REFERENCES t22(id));
CREATE INDEX t26_label ON t26(label);
CREATE INDEX t26_qty ON t26(qty, price);
INSERT INTO t26 (id, code, label, state, parent_id) VALUES (1, 'c26-1', 'l1', 1, 1);
INSERT INTO t26 (id, code, label, state, parent_id) VALUES (2, 'c26-2', 'l2', 1, 2);
CREATE TABLE t27 (id INTEGER PRIMARY KEY, code TEXT UNIQUE, label TEXT, qty INTEGER DEFAULT 0, price REAL, state INTEGER CHECK (state BETWEEN 0 AND 9), payload BLOB, created TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')), parent_id INTEGER REFERENCES t26(id), grand_id INTEGER REFERENCES t23(id));
CREATE INDEX t27_label ON t27(label);
INSERT INTO t27 (id, code, label, state, parent_id) VALUES (1, 'c27-1', 'l1', 1, 1);
INSERT INTO t27 (id, code, label, state, parent_id) VALUES (2, 'c27-2', 'l2', 1, 2);
