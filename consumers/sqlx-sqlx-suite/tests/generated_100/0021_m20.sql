CREATE TABLE t40 (id INTEGER PRIMARY KEY, code TEXT UNIQUE, label TEXT, qty INTEGER DEFAULT 0, price REAL, state INTEGER CHECK (state BETWEEN 0 AND 9), payload BLOB, created TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')), parent_id INTEGER REFERENCES t39(id), grand_id INTEGER REFERENCES t36(id));
CREATE INDEX t40_label ON t40(label);
CREATE INDEX t40_qty ON t40(qty, price);
INSERT INTO t40 (id, code, label, state, parent_id) VALUES (1, 'c40-1', 'l1', 1, 1);
INSERT INTO t40 (id, code, label, state, parent_id) VALUES (2, 'c40-2', 'l2', 1, 2);
CREATE TABLE t41 (id INTEGER PRIMARY KEY, code TEXT UNIQUE, label TEXT, qty INTEGER DEFAULT 0, price REAL, state INTEGER CHECK (state BETWEEN 0 AND 9), payload BLOB, created TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')), parent_id INTEGER REFERENCES t40(id), grand_id INTEGER REFERENCES t37(id));
CREATE INDEX t41_label ON t41(label);
INSERT INTO t41 (id, code, label, state, parent_id) VALUES (1, 'c41-1', 'l1', 1, 1);
INSERT INTO t41 (id, code, label, state, parent_id) VALUES (2, 'c41-2', 'l2', 1, 2);
