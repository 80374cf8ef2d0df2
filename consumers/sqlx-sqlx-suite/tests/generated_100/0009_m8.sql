CREATE TABLE t16 (id INTEGER PRIMARY KEY, code TEXT UNIQUE, label TEXT, qty INTEGER DEFAULT 0, price REAL, state INTEGER CHECK (state BETWEEN 0 AND 9), payload BLOB, created TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')), parent_id INTEGER REFERENCES t15(id), grand_id INTEGER REFERENCES t12(id));
CREATE INDEX t16_label ON t16(label);
CREATE INDEX t16_qty ON t16(qty, price);
INSERT INTO t16 (id, code, label, state, parent_id) VALUES (1, 'c16-1', 'l1', 1, 1);
INSERT INTO t16 (id, code, label, state, parent_id) VALUES (2, 'c16-2', 'l2', 1, 2);
CREATE TABLE t17 (id INTEGER PRIMARY KEY, code TEXT UNIQUE, label TEXT, qty INTEGER DEFAULT 0, price REAL, state INTEGER CHECK (state BETWEEN 0 AND 9), payload BLOB, created TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')), parent_id INTEGER REFERENCES t16(id), grand_id INTEGER REFERENCES t13(id));
CREATE INDEX t17_label ON t17(label);
INSERT INTO t17 (id, code, label, state, parent_id) VALUES (1, 'c17-1', 'l1', 1, 1);
INSERT INTO t17 (id, code, label, state, parent_id) VALUES (2, 'c17-2', 'l2', 1, 2);
