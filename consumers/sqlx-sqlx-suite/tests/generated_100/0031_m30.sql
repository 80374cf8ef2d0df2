CREATE TABLE t60 (id INTEGER PRIMARY KEY, code TEXT UNIQUE, label TEXT, qty INTEGER DEFAULT 0, price REAL, state INTEGER CHECK (state BETWEEN 0 AND 9), payload BLOB, created TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')), parent_id INTEGER REFERENCES t59(id), grand_id INTEGER REFERENCES t56(id));
CREATE INDEX t60_label ON t60(label);
CREATE INDEX t60_qty ON t60(qty, price);
INSERT INTO t60 (id, code, label, state, parent_id) VALUES (1, 'c60-1', 'l1', 1, 1);
INSERT INTO t60 (id, code, label, state, parent_id) VALUES (2, 'c60-2', 'l2', 1, 2);
CREATE TABLE t61 (id INTEGER PRIMARY KEY, code TEXT UNIQUE, label TEXT, qty INTEGER DEFAULT 0, price REAL, state INTEGER CHECK (state BETWEEN 0 AND 9), payload BLOB, created TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')), parent_id INTEGER REFERENCES t60(id), grand_id INTEGER REFERENCES t57(id));
CREATE INDEX t61_label ON t61(label);
INSERT INTO t61 (id, code, label, state, parent_id) VALUES (1, 'c61-1', 'l1', 1, 1);
INSERT INTO t61 (id, code, label, state, parent_id) VALUES (2, 'c61-2', 'l2', 1, 2);
