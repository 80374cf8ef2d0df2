CREATE TABLE t56 (id INTEGER PRIMARY KEY, code TEXT UNIQUE, label TEXT, qty INTEGER DEFAULT 0, price REAL, state INTEGER CHECK (state BETWEEN 0 AND 9), payload BLOB, created TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')), parent_id INTEGER REFERENCES t55(id), grand_id INTEGER REFERENCES t52(id));
CREATE INDEX t56_label ON t56(label);
CREATE INDEX t56_qty ON t56(qty, price);
INSERT INTO t56 (id, code, label, state, parent_id) VALUES (1, 'c56-1', 'l1', 1, 1);
INSERT INTO t56 (id, code, label, state, parent_id) VALUES (2, 'c56-2', 'l2', 1, 2);
CREATE TABLE t57 (id INTEGER PRIMARY KEY, code TEXT UNIQUE, label TEXT, qty INTEGER DEFAULT 0, price REAL, state INTEGER CHECK (state BETWEEN 0 AND 9), payload BLOB, created TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')), parent_id INTEGER REFERENCES t56(id), grand_id INTEGER REFERENCES t53(id));
CREATE INDEX t57_label ON t57(label);
INSERT INTO t57 (id, code, label, state, parent_id) VALUES (1, 'c57-1', 'l1', 1, 1);
INSERT INTO t57 (id, code, label, state, parent_id) VALUES (2, 'c57-2', 'l2', 1, 2);
