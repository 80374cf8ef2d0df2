CREATE TABLE t54 (id INTEGER PRIMARY KEY, code TEXT UNIQUE, label TEXT, qty INTEGER DEFAULT 0, price REAL, state INTEGER CHECK (state BETWEEN 0 AND 9), payload BLOB, created TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')), parent_id INTEGER REFERENCES t53(id), grand_id INTEGER REFERENCES t50(id));
CREATE INDEX t54_label ON t54(label);
CREATE INDEX t54_qty ON t54(qty, price);
INSERT INTO t54 (id, code, label, state, parent_id) VALUES (1, 'c54-1', 'l1', 1, 1);
INSERT INTO t54 (id, code, label, state, parent_id) VALUES (2, 'c54-2', 'l2', 1, 2);
CREATE TABLE t55 (id INTEGER PRIMARY KEY, code TEXT UNIQUE, label TEXT, qty INTEGER DEFAULT 0, price REAL, state INTEGER CHECK (state BETWEEN 0 AND 9), payload BLOB, created TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')), parent_id INTEGER REFERENCES t54(id), grand_id INTEGER REFERENCES t51(id));
CREATE INDEX t55_label ON t55(label);
INSERT INTO t55 (id, code, label, state, parent_id) VALUES (1, 'c55-1', 'l1', 1, 1);
INSERT INTO t55 (id, code, label, state, parent_id) VALUES (2, 'c55-2', 'l2', 1, 2);
