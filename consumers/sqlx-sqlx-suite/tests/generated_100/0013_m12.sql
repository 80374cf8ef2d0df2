CREATE TABLE t24 (id INTEGER PRIMARY KEY, code TEXT UNIQUE, label TEXT, qty INTEGER DEFAULT 0, price REAL, state INTEGER CHECK (state BETWEEN 0 AND 9), payload BLOB, created TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')), parent_id INTEGER REFERENCES t23(id), grand_id INTEGER REFERENCES t20(id));
CREATE INDEX t24_label ON t24(label);
CREATE INDEX t24_qty ON t24(qty, price);
INSERT INTO t24 (id, code, label, state, parent_id) VALUES (1, 'c24-1', 'l1', 1, 1);
INSERT INTO t24 (id, code, label, state, parent_id) VALUES (2, 'c24-2', 'l2', 1, 2);
CREATE TABLE t25 (id INTEGER PRIMARY KEY, code TEXT UNIQUE, label TEXT, qty INTEGER DEFAULT 0, price REAL, state INTEGER CHECK (state BETWEEN 0 AND 9), payload BLOB, created TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')), parent_id INTEGER REFERENCES t24(id), grand_id INTEGER REFERENCES t21(id));
CREATE INDEX t25_label ON t25(label);
INSERT INTO t25 (id, code, label, state, parent_id) VALUES (1, 'c25-1', 'l1', 1, 1);
INSERT INTO t25 (id, code, label, state, parent_id) VALUES (2, 'c25-2', 'l2', 1, 2);
