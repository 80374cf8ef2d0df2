CREATE TABLE t82 (id INTEGER PRIMARY KEY, code TEXT UNIQUE, label TEXT, qty INTEGER DEFAULT 0, price REAL, state INTEGER CHECK (state BETWEEN 0 AND 9), payload BLOB, created TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')), parent_id INTEGER REFERENCES t81(id), grand_id INTEGER REFERENCES t78(id));
CREATE INDEX t82_label ON t82(label);
CREATE INDEX t82_qty ON t82(qty, price);
INSERT INTO t82 (id, code, label, state, parent_id) VALUES (1, 'c82-1', 'l1', 1, 1);
INSERT INTO t82 (id, code, label, state, parent_id) VALUES (2, 'c82-2', 'l2', 1, 2);
CREATE TABLE t83 (id INTEGER PRIMARY KEY, code TEXT UNIQUE, label TEXT, qty INTEGER DEFAULT 0, price REAL, state INTEGER CHECK (state BETWEEN 0 AND 9), payload BLOB, created TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')), parent_id INTEGER REFERENCES t82(id), grand_id INTEGER REFERENCES t79(id));
CREATE INDEX t83_label ON t83(label);
INSERT INTO t83 (id, code, label, state, parent_id) VALUES (1, 'c83-1', 'l1', 1, 1);
INSERT INTO t83 (id, code, label, state, parent_id) VALUES (2, 'c83-2', 'l2', 1, 2);
