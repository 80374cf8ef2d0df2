CREATE TABLE t70 (id INTEGER PRIMARY KEY, code TEXT UNIQUE, label TEXT, qty INTEGER DEFAULT 0, price REAL, state INTEGER CHECK (state BETWEEN 0 AND 9), payload BLOB, created TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')), parent_id INTEGER REFERENCES t69(id), grand_id INTEGER REFERENCES t66(id));
CREATE INDEX t70_label ON t70(label);
CREATE INDEX t70_qty ON t70(qty, price);
INSERT INTO t70 (id, code, label, state, parent_id) VALUES (1, 'c70-1', 'l1', 1, 1);
INSERT INTO t70 (id, code, label, state, parent_id) VALUES (2, 'c70-2', 'l2', 1, 2);
CREATE TABLE t71 (id INTEGER PRIMARY KEY, code TEXT UNIQUE, label TEXT, qty INTEGER DEFAULT 0, price REAL, state INTEGER CHECK (state BETWEEN 0 AND 9), payload BLOB, created TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')), parent_id INTEGER REFERENCES t70(id), grand_id INTEGER REFERENCES t67(id));
CREATE INDEX t71_label ON t71(label);
INSERT INTO t71 (id, code, label, state, parent_id) VALUES (1, 'c71-1', 'l1', 1, 1);
INSERT INTO t71 (id, code, label, state, parent_id) VALUES (2, 'c71-2', 'l2', 1, 2);
