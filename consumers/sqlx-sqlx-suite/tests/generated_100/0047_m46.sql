CREATE TABLE t92 (id INTEGER PRIMARY KEY, code TEXT UNIQUE, label TEXT, qty INTEGER DEFAULT 0, price REAL, state INTEGER CHECK (state BETWEEN 0 AND 9), payload BLOB, created TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')), parent_id INTEGER REFERENCES t91(id), grand_id INTEGER REFERENCES t88(id));
CREATE INDEX t92_label ON t92(label);
CREATE INDEX t92_qty ON t92(qty, price);
INSERT INTO t92 (id, code, label, state, parent_id) VALUES (1, 'c92-1', 'l1', 1, 1);
INSERT INTO t92 (id, code, label, state, parent_id) VALUES (2, 'c92-2', 'l2', 1, 2);
CREATE TABLE t93 (id INTEGER PRIMARY KEY, code TEXT UNIQUE, label TEXT, qty INTEGER DEFAULT 0, price REAL, state INTEGER CHECK (state BETWEEN 0 AND 9), payload BLOB, created TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')), parent_id INTEGER REFERENCES t92(id), grand_id INTEGER REFERENCES t89(id));
CREATE INDEX t93_label ON t93(label);
INSERT INTO t93 (id, code, label, state, parent_id) VALUES (1, 'c93-1', 'l1', 1, 1);
INSERT INTO t93 (id, code, label, state, parent_id) VALUES (2, 'c93-2', 'l2', 1, 2);
