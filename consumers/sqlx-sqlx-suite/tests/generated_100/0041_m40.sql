CREATE TABLE t80 (id INTEGER PRIMARY KEY, code TEXT UNIQUE, label TEXT, qty INTEGER DEFAULT 0, price REAL, state INTEGER CHECK (state BETWEEN 0 AND 9), payload BLOB, created TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')), parent_id INTEGER REFERENCES t79(id), grand_id INTEGER REFERENCES t76(id));
CREATE INDEX t80_label ON t80(label);
CREATE INDEX t80_qty ON t80(qty, price);
INSERT INTO t80 (id, code, label, state, parent_id) VALUES (1, 'c80-1', 'l1', 1, 1);
INSERT INTO t80 (id, code, label, state, parent_id) VALUES (2, 'c80-2', 'l2', 1, 2);
CREATE TABLE t81 (id INTEGER PRIMARY KEY, code TEXT UNIQUE, label TEXT, qty INTEGER DEFAULT 0, price REAL, state INTEGER CHECK (state BETWEEN 0 AND 9), payload BLOB, created TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')), parent_id INTEGER REFERENCES t80(id), grand_id INTEGER REFERENCES t77(id));
CREATE INDEX t81_label ON t81(label);
INSERT INTO t81 (id, code, label, state, parent_id) VALUES (1, 'c81-1', 'l1', 1, 1);
INSERT INTO t81 (id, code, label, state, parent_id) VALUES (2, 'c81-2', 'l2', 1, 2);
