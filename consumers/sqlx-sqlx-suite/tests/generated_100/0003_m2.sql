CREATE TABLE t4 (id INTEGER PRIMARY KEY, code TEXT UNIQUE, label TEXT, qty INTEGER DEFAULT 0, price REAL, state INTEGER CHECK (state BETWEEN 0 AND 9), payload BLOB, created TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')), parent_id INTEGER REFERENCES t3(id), grand_id INTEGER REFERENCES t0(id));
CREATE INDEX t4_label ON t4(label);
CREATE INDEX t4_qty ON t4(qty, price);
INSERT INTO t4 (id, code, label, state, parent_id) VALUES (1, 'c4-1', 'l1', 1, 1);
INSERT INTO t4 (id, code, label, state, parent_id) VALUES (2, 'c4-2', 'l2', 1, 2);
CREATE TABLE t5 (id INTEGER PRIMARY KEY, code TEXT UNIQUE, label TEXT, qty INTEGER DEFAULT 0, price REAL, state INTEGER CHECK (state BETWEEN 0 AND 9), payload BLOB, created TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')), parent_id INTEGER REFERENCES t4(id), grand_id INTEGER REFERENCES t1(id));
CREATE INDEX t5_label ON t5(label);
INSERT INTO t5 (id, code, label, state, parent_id) VALUES (1, 'c5-1', 'l1', 1, 1);
INSERT INTO t5 (id, code, label, state, parent_id) VALUES (2, 'c5-2', 'l2', 1, 2);
