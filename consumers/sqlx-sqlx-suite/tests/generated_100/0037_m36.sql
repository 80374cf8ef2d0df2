CREATE TABLE t72 (id INTEGER PRIMARY KEY, code TEXT UNIQUE, label TEXT, qty INTEGER DEFAULT 0, price REAL, state INTEGER CHECK (state BETWEEN 0 AND 9), payload BLOB, created TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')), parent_id INTEGER REFERENCES t71(id), grand_id INTEGER REFERENCES t68(id));
CREATE INDEX t72_label ON t72(label);
CREATE INDEX t72_qty ON t72(qty, price);
INSERT INTO t72 (id, code, label, state, parent_id) VALUES (1, 'c72-1', 'l1', 1, 1);
INSERT INTO t72 (id, code, label, state, parent_id) VALUES (2, 'c72-2', 'l2', 1, 2);
CREATE TABLE t73 (id INTEGER PRIMARY KEY, code TEXT UNIQUE, label TEXT, qty INTEGER DEFAULT 0, price REAL, state INTEGER CHECK (state BETWEEN 0 AND 9), payload BLOB, created TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')), parent_id INTEGER REFERENCES t72(id), grand_id INTEGER REFERENCES t69(id));
CREATE INDEX t73_label ON t73(label);
INSERT INTO t73 (id, code, label, state, parent_id) VALUES (1, 'c73-1', 'l1', 1, 1);
INSERT INTO t73 (id, code, label, state, parent_id) VALUES (2, 'c73-2', 'l2', 1, 2);
