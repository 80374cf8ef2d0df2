CREATE TABLE t50 (id INTEGER PRIMARY KEY, code TEXT UNIQUE, label TEXT, qty INTEGER DEFAULT 0, price REAL, state INTEGER CHECK (state BETWEEN 0 AND 9), payload BLOB, created TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')), parent_id INTEGER REFERENCES t49(id), grand_id INTEGER REFERENCES t46(id));
CREATE INDEX t50_label ON t50(label);
CREATE INDEX t50_qty ON t50(qty, price);
INSERT INTO t50 (id, code, label, state, parent_id) VALUES (1, 'c50-1', 'l1', 1, 1);
INSERT INTO t50 (id, code, label, state, parent_id) VALUES (2, 'c50-2', 'l2', 1, 2);
CREATE TABLE t51 (id INTEGER PRIMARY KEY, code TEXT UNIQUE, label TEXT, qty INTEGER DEFAULT 0, price REAL, state INTEGER CHECK (state BETWEEN 0 AND 9), payload BLOB, created TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')), parent_id INTEGER REFERENCES t50(id), grand_id INTEGER REFERENCES t47(id));
CREATE INDEX t51_label ON t51(label);
INSERT INTO t51 (id, code, label, state, parent_id) VALUES (1, 'c51-1', 'l1', 1, 1);
INSERT INTO t51 (id, code, label, state, parent_id) VALUES (2, 'c51-2', 'l2', 1, 2);
