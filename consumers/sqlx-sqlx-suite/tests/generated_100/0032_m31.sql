CREATE TABLE t62 (id INTEGER PRIMARY KEY, code TEXT UNIQUE, label TEXT, qty INTEGER DEFAULT 0, price REAL, state INTEGER CHECK (state BETWEEN 0 AND 9), payload BLOB, created TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')), parent_id INTEGER REFERENCES t61(id), grand_id INTEGER REFERENCES t58(id));
CREATE INDEX t62_label ON t62(label);
CREATE INDEX t62_qty ON t62(qty, price);
INSERT INTO t62 (id, code, label, state, parent_id) VALUES (1, 'c62-1', 'l1', 1, 1);
INSERT INTO t62 (id, code, label, state, parent_id) VALUES (2, 'c62-2', 'l2', 1, 2);
CREATE TABLE t63 (id INTEGER PRIMARY KEY, code TEXT UNIQUE, label TEXT, qty INTEGER DEFAULT 0, price REAL, state INTEGER CHECK (state BETWEEN 0 AND 9), payload BLOB, created TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')), parent_id INTEGER REFERENCES t62(id), grand_id INTEGER REFERENCES t59(id));
CREATE INDEX t63_label ON t63(label);
INSERT INTO t63 (id, code, label, state, parent_id) VALUES (1, 'c63-1', 'l1', 1, 1);
INSERT INTO t63 (id, code, label, state, parent_id) VALUES (2, 'c63-2', 'l2', 1, 2);
