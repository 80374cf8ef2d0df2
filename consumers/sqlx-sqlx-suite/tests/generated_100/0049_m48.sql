CREATE TABLE t96 (id INTEGER PRIMARY KEY, code TEXT UNIQUE, label TEXT, qty INTEGER DEFAULT 0, price REAL, state INTEGER CHECK (state BETWEEN 0 AND 9), payload BLOB, created TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')), parent_id INTEGER REFERENCES t95(id), grand_id INTEGER REFERENCES t92(id));
CREATE INDEX t96_label ON t96(label);
CREATE INDEX t96_qty ON t96(qty, price);
INSERT INTO t96 (id, code, label, state, parent_id) VALUES (1, 'c96-1', 'l1', 1, 1);
INSERT INTO t96 (id, code, label, state, parent_id) VALUES (2, 'c96-2', 'l2', 1, 2);
CREATE TABLE t97 (id INTEGER PRIMARY KEY, code TEXT UNIQUE, label TEXT, qty INTEGER DEFAULT 0, price REAL, state INTEGER CHECK (state BETWEEN 0 AND 9), payload BLOB, created TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')), parent_id INTEGER REFERENCES t96(id), grand_id INTEGER REFERENCES t93(id));
CREATE INDEX t97_label ON t97(label);
INSERT INTO t97 (id, code, label, state, parent_id) VALUES (1, 'c97-1', 'l1', 1, 1);
INSERT INTO t97 (id, code, label, state, parent_id) VALUES (2, 'c97-2', 'l2', 1, 2);
