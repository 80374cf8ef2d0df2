CREATE TABLE t66 (id INTEGER PRIMARY KEY, code TEXT UNIQUE, label TEXT, qty INTEGER DEFAULT 0, price REAL, state INTEGER CHECK (state BETWEEN 0 AND 9), payload BLOB, created TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')), parent_id INTEGER REFERENCES t65(id), grand_id INTEGER REFERENCES t62(id));
CREATE INDEX t66_label ON t66(label);
CREATE INDEX t66_qty ON t66(qty, price);
INSERT INTO t66 (id, code, label, state, parent_id) VALUES (1, 'c66-1', 'l1', 1, 1);
INSERT INTO t66 (id, code, label, state, parent_id) VALUES (2, 'c66-2', 'l2', 1, 2);
CREATE TABLE t67 (id INTEGER PRIMARY KEY, code TEXT UNIQUE, label TEXT, qty INTEGER DEFAULT 0, price REAL, state INTEGER CHECK (state BETWEEN 0 AND 9), payload BLOB, created TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')), parent_id INTEGER REFERENCES t66(id), grand_id INTEGER REFERENCES t63(id));
CREATE INDEX t67_label ON t67(label);
INSERT INTO t67 (id, code, label, state, parent_id) VALUES (1, 'c67-1', 'l1', 1, 1);
INSERT INTO t67 (id, code, label, state, parent_id) VALUES (2, 'c67-2', 'l2', 1, 2);
