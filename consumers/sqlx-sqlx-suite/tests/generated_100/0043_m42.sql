CREATE TABLE t84 (id INTEGER PRIMARY KEY, code TEXT UNIQUE, label TEXT, qty INTEGER DEFAULT 0, price REAL, state INTEGER CHECK (state BETWEEN 0 AND 9), payload BLOB, created TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')), parent_id INTEGER REFERENCES t83(id), grand_id INTEGER REFERENCES t80(id));
CREATE INDEX t84_label ON t84(label);
CREATE INDEX t84_qty ON t84(qty, price);
INSERT INTO t84 (id, code, label, state, parent_id) VALUES (1, 'c84-1', 'l1', 1, 1);
INSERT INTO t84 (id, code, label, state, parent_id) VALUES (2, 'c84-2', 'l2', 1, 2);
CREATE TABLE t85 (id INTEGER PRIMARY KEY, code TEXT UNIQUE, label TEXT, qty INTEGER DEFAULT 0, price REAL, state INTEGER CHECK (state BETWEEN 0 AND 9), payload BLOB, created TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')), parent_id INTEGER REFERENCES t84(id), grand_id INTEGER REFERENCES t81(id));
CREATE INDEX t85_label ON t85(label);
INSERT INTO t85 (id, code, label, state, parent_id) VALUES (1, 'c85-1', 'l1', 1, 1);
INSERT INTO t85 (id, code, label, state, parent_id) VALUES (2, 'c85-2', 'l2', 1, 2);
