CREATE TABLE t74 (id INTEGER PRIMARY KEY, code TEXT UNIQUE, label TEXT, qty INTEGER DEFAULT 0, price REAL, state INTEGER CHECK (state BETWEEN 0 AND 9), payload BLOB, created TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')), parent_id INTEGER REFERENCES t73(id), grand_id INTEGER REFERENCES t70(id));
CREATE INDEX t74_label ON t74(label);
CREATE INDEX t74_qty ON t74(qty, price);
INSERT INTO t74 (id, code, label, state, parent_id) VALUES (1, 'c74-1', 'l1', 1, 1);
INSERT INTO t74 (id, code, label, state, parent_id) VALUES (2, 'c74-2', 'l2', 1, 2);
CREATE TABLE t75 (id INTEGER PRIMARY KEY, code TEXT UNIQUE, label TEXT, qty INTEGER DEFAULT 0, price REAL, state INTEGER CHECK (state BETWEEN 0 AND 9), payload BLOB, created TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')), parent_id INTEGER REFERENCES t74(id), grand_id INTEGER REFERENCES t71(id));
CREATE INDEX t75_label ON t75(label);
INSERT INTO t75 (id, code, label, state, parent_id) VALUES (1, 'c75-1', 'l1', 1, 1);
INSERT INTO t75 (id, code, label, state, parent_id) VALUES (2, 'c75-2', 'l2', 1, 2);
